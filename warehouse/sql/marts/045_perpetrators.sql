-- Perpetrators: the counted ones, their roles, and the link to the victims of the same
-- case, from staging/045_perpetrators.sql (built by warehouse/marts.py).

-- One row per counted perpetrator (withdrawn ones out); the year is the registration year.
CREATE OR REPLACE MACRO mart_perpetrators_of(current_perpetrators) AS TABLE
SELECT
    country || ':' || record_ref                    AS perpetrator_key,
    country,
    record_ref,
    case_ref,
    status,
    coalesce(sex, 'not_recorded')                   AS sex,
    coalesce(citizenship, 'not_recorded')           AS citizenship,
    age_band,
    age_group,
    registered_year                                 AS year,
    registered_month                                AS month,
    coalesce(structure, 'not_recorded')             AS structure,
    coalesce(relation_to_victim, 'not_recorded')    AS relation_to_victim,
    roles,
    event_id,
    load_id,
    validation_run_id
FROM query_table(current_perpetrators)
WHERE status <> 'withdrawn';

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_perpetrators AS FROM mart_perpetrators_of('stg_perpetrator_current') LIMIT 0;

-- One row per perpetrator and role; 'not_recorded' when none, so every one counts.
CREATE OR REPLACE MACRO mart_perpetrator_role_of(perpetrators) AS TABLE
SELECT perpetrator_key, unnest(roles) AS role
FROM query_table(perpetrators) WHERE roles IS NOT NULL AND len(roles) > 0
UNION ALL
SELECT perpetrator_key, 'not_recorded' FROM query_table(perpetrators) WHERE roles IS NULL OR len(roles) = 0;

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_perpetrator_role AS FROM mart_perpetrator_role_of('mart_perpetrators') LIMIT 0;

-- Victims and perpetrators of one case: same reporting country, same case pseudonym
-- (both keyed with the country's key, so only that country's records can meet).
CREATE OR REPLACE MACRO mart_case_links_of(victims, perpetrators) AS TABLE
SELECT DISTINCT v.person_key, v.record_key, p.perpetrator_key, v.country
FROM query_table(victims) v
JOIN query_table(perpetrators) p ON p.country = v.country AND p.case_ref = v.case_ref
WHERE v.case_ref IS NOT NULL;

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_case_links AS FROM mart_case_links_of('mart_victims', 'mart_perpetrators') LIMIT 0;
