-- Staging's one rule, for every kind of record: the current version of a national record.
-- A newer updated_at replaces an older one; an equal or older one changes nothing, so
-- among equal updated_at the version loaded first stays. A table macro, so that both
-- staging models below say it once (as a dbt macro would).
CREATE OR REPLACE MACRO current_versions(raw_events) AS TABLE
SELECT *
FROM query_table(raw_events)
QUALIFY row_number() OVER (
    PARTITION BY country, record_ref
    ORDER BY updated_at DESC, loaded_at ASC, kafka_offset ASC
) = 1;
