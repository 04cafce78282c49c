-- Modus operandi of each counted victim: how they were controlled, moved and contacted,
-- and where from and to.

-- Scope and route, derived. The origin is where the victim was recruited, or, when that
-- is not recorded, the country of citizenship. Domestic: recruited and exploited in one
-- country with no transit through another; cross-border otherwise; not_recorded when
-- origin or country of exploitation is unknown. The route is recruited_in > transit >
-- country of exploitation, recorded only when both ends are.
CREATE OR REPLACE MACRO mart_victim_modus_operandi_of(victims, current_victims) AS TABLE
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
FROM query_table(victims) v
JOIN query_table(current_victims) s ON s.event_id = v.event_id;

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_victim_modus_operandi AS FROM mart_victim_modus_operandi_of('mart_victims', 'stg_victim_current') LIMIT 0;
