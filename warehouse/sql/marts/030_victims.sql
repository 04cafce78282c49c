-- Marts: what analysts count. Each mart is a table macro of the records it derives
-- rows from: warehouse/marts.py builds it from every record (a full rebuild) or from
-- the records a batch touched (a refresh), in the same transaction.

-- One row per counted victim: the current version of each record, withdrawn ones out.
-- person_key is the person a count counts once: within a country the national record;
-- across countries the regional person that linkage found (person_links), so a person
-- identified in RS and MK counts once regionally and once in each country.
-- record_key is the national record, one row each.
CREATE OR REPLACE MACRO mart_victims_of(current_victims) AS TABLE
SELECT
    coalesce(l.person_key, country || ':' || record_ref) AS person_key,
    country || ':' || record_ref                       AS record_key,
    -- A record linked to another is the only way a person has several rows here; the
    -- others are counted with count(*) (warehouse/queries.py), which is much cheaper.
    l.person_key IS NOT NULL                           AS is_linked,
    country,
    record_ref,
    status,
    coalesce(case_category, 'not_recorded')            AS case_category,
    coalesce(sex, 'not_recorded')                      AS sex,
    coalesce(citizenship, 'not_recorded')              AS citizenship,
    age_band,
    age_group,
    identified_year                                    AS year,
    identified_month                                   AS month,
    coalesce(identified_by, 'not_recorded')            AS identified_by,
    coalesce(recruitment_method, 'not_recorded')       AS recruitment,
    coalesce(country_of_exploitation, 'not_recorded')  AS country_of_exploitation,
    coalesce(recruited_in, 'not_recorded')             AS recruited_in,
    exploitation_types,
    -- The lists of multiple systems estimation (warehouse/estimate.py): every agency
    -- that recorded the person, the identifying one always among them.
    list_distinct(list_concat(coalesce(recorded_by, []), [identified_by])) AS agencies,  -- drops NULLs
    means_of_control,
    means_of_travel,
    means_of_communication,
    case_ref,                                          -- the case's perpetrators (045); not released
    event_id,
    load_id,
    validation_run_id
FROM query_table(current_victims)
LEFT JOIN person_links l USING (country, record_ref)
WHERE status <> 'withdrawn';

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_victims AS FROM mart_victims_of('stg_victim_current') LIMIT 0;
