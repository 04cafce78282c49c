-- Raw layer: what the pipeline accepted or refused, as loaded. Every row names the Kafka
-- position, the load and the validation run it came from. The one edit: a version that
-- is not the current version of a counted record loses its content, kept as a hash
-- (warehouse/superseded.py), and an erasure removes a record (warehouse/erasure.py).

-- One row per accepted event (one version of one national record), generalised:
-- age band and minor/adult instead of age; year and month instead of a date.
CREATE TABLE IF NOT EXISTS raw_victim_events (
    -- Deterministic: a re-push is ignored. No key index: the load finds events already
    -- held with an anti-join (warehouse/loader.py); an index on random ids cost time
    -- and memory that grew with the table at every load and checkpoint.
    event_id                VARCHAR NOT NULL,
    country                 VARCHAR NOT NULL,      -- reporting country, equals the topic's
    record_ref              VARCHAR NOT NULL,      -- keyed pseudonym of the national record
    case_ref                VARCHAR,
    updated_at              TIMESTAMPTZ NOT NULL,
    status                  VARCHAR NOT NULL,
    case_category           VARCHAR,
    sex                     VARCHAR,
    citizenship             VARCHAR,
    age_band                VARCHAR,               -- content: NULL once superseded
    age_group               VARCHAR,
    identified_year         INTEGER,
    identified_month        INTEGER,
    identified_by           VARCHAR,
    exploitation_types      VARCHAR[],             -- NULL: not recorded for this person
    recorded_by             VARCHAR[],             -- every agency that met the person (v1.1)
    country_of_exploitation VARCHAR,
    recruited_in            VARCHAR,
    transit_countries       VARCHAR[],
    recruitment_method      VARCHAR,
    means_of_control        VARCHAR[],
    means_of_travel         VARCHAR[],
    means_of_communication  VARCHAR[],
    codelist_version        INTEGER NOT NULL,
    producer_batch_id       VARCHAR NOT NULL,
    produced_at             TIMESTAMPTZ NOT NULL,
    topic                   VARCHAR NOT NULL,
    kafka_partition         INTEGER NOT NULL,
    kafka_offset            BIGINT NOT NULL,
    load_id                 VARCHAR NOT NULL,
    validation_run_id       VARCHAR NOT NULL,
    loaded_at               TIMESTAMPTZ NOT NULL,
    content_md5             VARCHAR                -- set when the content was stripped
);

-- Events that failed validation, with the reasons; no personal value, only positions,
-- pseudonyms and field names.
CREATE TABLE IF NOT EXISTS quarantine (
    topic             VARCHAR NOT NULL,
    kafka_partition   INTEGER NOT NULL,
    kafka_offset      BIGINT NOT NULL,
    country           VARCHAR NOT NULL,            -- the topic's country
    event_id          VARCHAR,                     -- NULL when the message was unreadable
    record_ref        VARCHAR,
    reasons           VARCHAR NOT NULL,
    load_id           VARCHAR NOT NULL,
    validation_run_id VARCHAR NOT NULL,
    quarantined_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);

-- The next Kafka offset to read, per partition: written in the same transaction as the
-- rows read up to it, so a crash and a re-run neither lose nor double count.
CREATE TABLE IF NOT EXISTS kafka_offsets (
    topic           VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     BIGINT NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);

-- One row per micro-batch loaded: the audit trail from Airflow run to warehouse rows.
CREATE TABLE IF NOT EXISTS load_batches (
    load_id           VARCHAR PRIMARY KEY,
    airflow_run_id    VARCHAR,
    topic             VARCHAR NOT NULL,
    validation_run_id VARCHAR NOT NULL,
    events_read       INTEGER NOT NULL,
    events_loaded     INTEGER NOT NULL,
    events_duplicate  INTEGER NOT NULL,
    events_quarantined INTEGER NOT NULL,
    loaded_at         TIMESTAMPTZ NOT NULL
);

-- Great Expectations runs, summarised (the full, redacted results are under gx/).
CREATE TABLE IF NOT EXISTS validation_runs (
    validation_run_id VARCHAR PRIMARY KEY,
    country           VARCHAR NOT NULL,
    suite             VARCHAR NOT NULL,
    events            INTEGER NOT NULL,
    events_failed     INTEGER NOT NULL,
    expectations      INTEGER NOT NULL,
    expectations_failed INTEGER NOT NULL,
    ran_at            TIMESTAMPTZ NOT NULL,
    warnings          VARCHAR,                     -- batch-level findings, '; '-separated
    held_back         VARCHAR                      -- why the whole batch was quarantined
);

-- The quarantine as officers see it: whether a later version of the record was accepted
-- (then the entry is resolved). Release snapshots hold this, not the raw layer.
CREATE OR REPLACE VIEW quarantine_status AS
SELECT q.*, EXISTS (
    SELECT 1 FROM raw_victim_events r
    WHERE r.country = q.country AND r.record_ref = q.record_ref AND r.loaded_at >= q.quarantined_at
) AS resolved
FROM quarantine q;

-- The deny list of erased records (warehouse/erasure.py): a keyed hash of each erased
-- record's pseudonym, under a hub secret, never the pseudonym. An event of a record on
-- this list is dropped at load, so a re-push or a re-read after an offset reset brings
-- nothing back.
CREATE TABLE IF NOT EXISTS erased_records (
    ref_hash    VARCHAR PRIMARY KEY,
    country     VARCHAR NOT NULL,
    erased_at   TIMESTAMPTZ NOT NULL
);
