-- Pre-aggregated victim counts for every dimension that mart_victim_cells does not hold,
-- one dimension at a time, by year and reporting country: `query counts --by D`,
-- `--by year,D` and `--by year,country,D` read a few thousand rows instead of joining
-- every victim to a bridge. Rebuilt with the other marts, after the perpetrator marts.
--
-- As in mart_victim_cells, only persons with one record are aggregated (linked persons
-- are counted apart, exactly, by warehouse/queries.py), and `first` marks one row of
-- each record, so that a count totalled over a list-valued dimension (a victim with two
-- means of travel, a case with two perpetrators) counts the victim once. The categories
-- are those of warehouse/queries.py's DIMENSIONS; tests/unit/test_person_counts.py checks
-- every count read here against count(DISTINCT) on the marts.
CREATE OR REPLACE TABLE mart_victim_dimension_cells AS
WITH unlinked AS (
    SELECT * FROM mart_victims WHERE NOT is_linked
),
-- The structures and relations of the perpetrators of a record's case, each once (the
-- victims of cases with a linked perpetrator only: most have none, counted below at once).
perpetrator_codes AS (
    SELECT DISTINCT dimension, record_key, year, country, category
    FROM (
        SELECT v.record_key, v.year, v.country,
               coalesce(p.structure, 'no_perpetrator_linked')          AS perpetrator_structure,
               coalesce(p.relation_to_victim, 'no_perpetrator_linked') AS perpetrator_relation
        FROM unlinked v
        JOIN mart_case_links vp USING (record_key)
        LEFT JOIN mart_perpetrators p ON p.perpetrator_key = vp.perpetrator_key
    ) UNPIVOT (category FOR dimension IN (perpetrator_structure, perpetrator_relation))
)
SELECT 'month' AS dimension, year, country, printf('%04d-%02d', year, month) AS category,
       TRUE AS first, count(*) AS victims
FROM unlinked GROUP BY ALL
UNION ALL
SELECT dimension, year, country, category, TRUE, count(*)
FROM (
    SELECT year, country, age_band, recruitment, case_category, status, identified_by, country_of_exploitation
    FROM unlinked
) UNPIVOT INCLUDE NULLS (category FOR dimension IN (
    age_band, recruitment, case_category, status, identified_by, country_of_exploitation))
GROUP BY ALL
UNION ALL
SELECT dimension, year, country, category, TRUE, count(*)
FROM (
    SELECT v.year, v.country, mo.recruited_in, mo.trafficking_scope, mo.route
    FROM unlinked v JOIN mart_victim_modus_operandi mo USING (record_key)
) UNPIVOT INCLUDE NULLS (category FOR dimension IN (recruited_in, trafficking_scope, route))
GROUP BY ALL
UNION ALL
SELECT c.list, v.year, v.country, c.code, c.is_first, count(*)
FROM unlinked v JOIN mart_victim_codes c USING (record_key)
WHERE c.list IN ('means_of_control', 'means_of_travel', 'means_of_communication')
GROUP BY ALL
UNION ALL
SELECT dimension, year, country, category, first, count(*)
FROM (
    SELECT dimension, year, country, category,
           row_number() OVER (PARTITION BY dimension, record_key ORDER BY category) = 1 AS first
    FROM perpetrator_codes
)
GROUP BY ALL
UNION ALL
SELECT d.dimension, v.year, v.country, 'no_perpetrator_linked', TRUE, count(*)
FROM unlinked v
CROSS JOIN (VALUES ('perpetrator_structure'), ('perpetrator_relation')) d(dimension)
WHERE NOT EXISTS (SELECT 1 FROM mart_case_links vp WHERE vp.record_key = v.record_key)
GROUP BY ALL;
