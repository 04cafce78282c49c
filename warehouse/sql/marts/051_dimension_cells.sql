-- Pre-aggregated victim counts for every dimension but year and country, one at a time,
-- by year and reporting country (050_dimension_codes.sql summed): `query counts --by D`,
-- `--by year,D` and `--by year,country,D` read a few thousand rows instead of joining
-- every victim to a bridge.
CREATE OR REPLACE TABLE mart_victim_dimension_cells AS
SELECT dimension, year, country, category, first, count(*) AS victims
FROM mart_victim_dimension_codes
GROUP BY ALL;
