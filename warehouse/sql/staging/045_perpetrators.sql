-- Staging: the current version of every national perpetrator record, as for victims
-- (020_victims.sql).
CREATE OR REPLACE VIEW stg_perpetrator_current AS
SELECT *
FROM raw_perpetrator_events
QUALIFY row_number() OVER (
    PARTITION BY country, record_ref
    ORDER BY updated_at DESC, loaded_at ASC, kafka_offset ASC
) = 1;
