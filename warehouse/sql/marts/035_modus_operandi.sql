-- Modus operandi of each counted victim: how they were controlled, moved and contacted,
-- and where from and to. Rebuilt with the other marts.

-- Bridges, one per ;-separated list, as mart_victim_exploitation: one row per victim and
-- code, one 'not_recorded' row for a victim with none, so every victim counts, and
-- is_first on one row of each record.
-- record_key joins them to their own national record (a linked person has several).
CREATE OR REPLACE TABLE mart_victim_control AS
SELECT person_key, record_key, unnest(codes) AS means_of_control, unnest(range(len(codes))) = 0 AS is_first
FROM (
    SELECT person_key, record_key, coalesce(nullif(list_sort(list_distinct(means_of_control)), []), ['not_recorded']) AS codes
    FROM mart_victims
);

CREATE OR REPLACE TABLE mart_victim_travel AS
SELECT person_key, record_key, unnest(codes) AS means_of_travel, unnest(range(len(codes))) = 0 AS is_first
FROM (
    SELECT person_key, record_key, coalesce(nullif(list_sort(list_distinct(means_of_travel)), []), ['not_recorded']) AS codes
    FROM mart_victims
);

CREATE OR REPLACE TABLE mart_victim_communication AS
SELECT person_key, record_key, unnest(codes) AS means_of_communication, unnest(range(len(codes))) = 0 AS is_first
FROM (
    SELECT person_key, record_key, coalesce(nullif(list_sort(list_distinct(means_of_communication)), []), ['not_recorded']) AS codes
    FROM mart_victims
);

-- Scope and route, derived. The origin is where the victim was recruited, or, when that
-- is not recorded, the country of citizenship. Domestic: recruited and exploited in one
-- country with no transit through another; cross-border otherwise; not_recorded when
-- origin or country of exploitation is unknown. The route is recruited_in > transit >
-- country of exploitation, recorded only when both ends are.
CREATE OR REPLACE TABLE mart_victim_modus_operandi AS
SELECT
    v.person_key,
    v.record_key,
    coalesce(s.recruited_in, 'not_recorded') AS recruited_in,
    CASE
        WHEN s.country_of_exploitation IS NULL OR coalesce(s.recruited_in, s.citizenship) IS NULL
            THEN 'not_recorded'
        WHEN coalesce(s.recruited_in, s.citizenship) = s.country_of_exploitation
            AND len(list_filter(coalesce(s.transit_countries, []), lambda c: c <> s.country_of_exploitation)) = 0
            THEN 'domestic'
        ELSE 'cross_border'
    END AS trafficking_scope,
    CASE
        WHEN s.recruited_in IS NULL OR s.country_of_exploitation IS NULL THEN 'not_recorded'
        ELSE array_to_string(
            list_concat([s.recruited_in], coalesce(s.transit_countries, []), [s.country_of_exploitation]), ' > '
        )
    END AS route
FROM mart_victims v
JOIN stg_victim_current s ON s.event_id = v.event_id;
