-- Modus operandi of each counted victim: how they were controlled, moved and contacted,
-- and where from and to. Rebuilt with the other marts.

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
