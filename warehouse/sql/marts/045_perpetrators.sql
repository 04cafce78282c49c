-- Perpetrators: the counted ones, their roles, and the link to the victims of the same
-- case. Rebuilt with the other marts, from staging/045_perpetrators.sql.

-- One row per counted perpetrator (withdrawn ones out); the year is the registration year.
CREATE OR REPLACE TABLE mart_perpetrators AS
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
FROM stg_perpetrator_current
WHERE status <> 'withdrawn';

-- One row per perpetrator and role; 'not_recorded' when none, so every one counts.
CREATE OR REPLACE TABLE mart_perpetrator_role AS
SELECT perpetrator_key, unnest(roles) AS role
FROM mart_perpetrators WHERE roles IS NOT NULL AND len(roles) > 0
UNION ALL
SELECT perpetrator_key, 'not_recorded' FROM mart_perpetrators WHERE roles IS NULL OR len(roles) = 0;

-- Victims and perpetrators of one case: same reporting country, same case pseudonym
-- (both keyed with the country's key, so only that country's records can meet).
CREATE OR REPLACE TABLE mart_case_links AS
SELECT DISTINCT v.person_key, v.record_key, p.perpetrator_key, v.country
FROM mart_victims v
JOIN stg_victim_current s ON s.event_id = v.event_id
JOIN mart_perpetrators p ON p.country = s.country AND p.case_ref = s.case_ref
WHERE s.case_ref IS NOT NULL;
