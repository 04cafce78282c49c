-- Staging: the current version of every national victim record (010_current_versions.sql).
CREATE OR REPLACE VIEW stg_victim_current AS
SELECT * FROM current_versions('raw_victim_events');
