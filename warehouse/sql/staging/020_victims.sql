-- Staging: the current version of every national record.
-- A newer updated_at replaces an older one; an equal or older one changes nothing, so
-- among equal updated_at the version loaded first stays.
CREATE OR REPLACE VIEW stg_victim_current AS
SELECT *
FROM raw_victim_events
QUALIFY row_number() OVER (
    PARTITION BY country, record_ref
    ORDER BY updated_at DESC, loaded_at ASC, kafka_offset ASC
) = 1;
