-- Pre-aggregated victim counts for every dimension but year and country, one at a time,
-- by year and reporting country (050_dimension_codes.sql summed): `query counts --by D`,
-- `--by year,D` and `--by year,country,D` read a few thousand rows instead of joining
-- every victim to a bridge. Summed from the rows of 050's macro; a refresh adds the
-- touched victims' rows after and takes away their rows before (warehouse/marts.py).
CREATE OR REPLACE MACRO mart_victim_dimension_cells_of(dimension_codes) AS TABLE
SELECT dimension, year, country, category, first, count(*) AS victims
FROM query_table(dimension_codes)
GROUP BY ALL;

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_victim_dimension_cells AS FROM mart_victim_dimension_cells_of('mart_victim_dimension_codes') LIMIT 0;
