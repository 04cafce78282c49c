-- Staging: the current version of every national perpetrator record (010_current_versions.sql).
CREATE OR REPLACE VIEW stg_perpetrator_current AS
SELECT * FROM current_versions('raw_perpetrator_events');
