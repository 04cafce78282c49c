-- Every victim's category in every dimension but year and country, one row per record,
-- dimension and category, for the persons with one record (linked persons are counted
-- apart, exactly): what the pre-aggregated counts are summed from, here for the exact
-- counts (051_dimension_cells.sql) and, in each release snapshot, for the protected
-- ones with their cell keys (release/snapshot.py). A macro of the victims it is asked
-- for and of their rows in the marts, and a view over all of them: nothing is stored
-- twice. A refresh takes each touched victim's rows before and after (warehouse/marts.py).
--
-- `first` marks one row of each record and dimension, so that a count totalled over a
-- list-valued dimension (a victim with two forms of exploitation or two means of travel,
-- a case with two perpetrators) counts the victim once. The categories are those of
-- warehouse/queries.py's DIMENSIONS; tests/unit/test_person_counts.py checks every count
-- summed from here against count(DISTINCT) on the marts.
CREATE OR REPLACE MACRO mart_victim_dimension_codes_of(victims, codes, modus_operandi, case_links) AS TABLE
WITH unlinked AS (
    SELECT * FROM query_table(victims) WHERE NOT is_linked
),
-- The structures and relations of the perpetrators of a record's case, each once (the
-- victims of cases with a linked perpetrator only: most have none, taken below at once).
perpetrator_codes AS (
    SELECT DISTINCT dimension, person_key, record_key, year, country, category
    FROM (
        SELECT v.person_key, v.record_key, v.year, v.country,
               coalesce(p.structure, 'no_perpetrator_linked')          AS perpetrator_structure,
               coalesce(p.relation_to_victim, 'no_perpetrator_linked') AS perpetrator_relation
        FROM unlinked v
        JOIN query_table(case_links) vp USING (record_key)
        LEFT JOIN mart_perpetrators p ON p.perpetrator_key = vp.perpetrator_key
    ) UNPIVOT (category FOR dimension IN (perpetrator_structure, perpetrator_relation))
)
SELECT 'month' AS dimension, person_key, record_key, year, country,
       printf('%04d-%02d', year, month) AS category, TRUE AS first
FROM unlinked
UNION ALL
SELECT dimension, person_key, record_key, year, country, category, TRUE
FROM (
    SELECT person_key, record_key, year, country, citizenship, sex, age_group, age_band, recruitment, case_category, status,
           identified_by, country_of_exploitation
    FROM unlinked
) UNPIVOT INCLUDE NULLS (category FOR dimension IN (
    citizenship, sex, age_group, age_band, recruitment, case_category, status, identified_by,
    country_of_exploitation))
UNION ALL
SELECT dimension, person_key, record_key, year, country, category, TRUE
FROM (
    SELECT v.person_key, v.record_key, v.year, v.country, mo.recruited_in, mo.trafficking_scope, mo.route
    FROM unlinked v JOIN query_table(modus_operandi) mo USING (record_key)
) UNPIVOT INCLUDE NULLS (category FOR dimension IN (recruited_in, trafficking_scope, route))
UNION ALL
SELECT c.list, v.person_key, v.record_key, v.year, v.country, c.code, c.is_first
FROM unlinked v JOIN query_table(codes) c USING (record_key)
UNION ALL
SELECT dimension, person_key, record_key, year, country, category,
       row_number() OVER (PARTITION BY dimension, record_key ORDER BY category) = 1
FROM perpetrator_codes
UNION ALL
SELECT d.dimension, v.person_key, v.record_key, v.year, v.country, 'no_perpetrator_linked', TRUE
FROM unlinked v
CROSS JOIN (VALUES ('perpetrator_structure'), ('perpetrator_relation')) d(dimension)
WHERE NOT EXISTS (SELECT 1 FROM query_table(case_links) vp WHERE vp.record_key = v.record_key);

CREATE OR REPLACE VIEW mart_victim_dimension_codes AS
FROM mart_victim_dimension_codes_of('mart_victims', 'mart_victim_codes', 'mart_victim_modus_operandi', 'mart_case_links');
