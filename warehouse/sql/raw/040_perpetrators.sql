-- Raw layer for perpetrator records: one row per accepted perpetrator event, generalised
-- as victims' are (age band, month); traced to topic, load and validation. Superseded
-- and withdrawn versions lose their content as victims' do (warehouse/superseded.py).
CREATE TABLE IF NOT EXISTS raw_perpetrator_events (
    event_id            VARCHAR PRIMARY KEY,   -- deterministic: a re-push is ignored
    country             VARCHAR NOT NULL,
    record_ref          VARCHAR NOT NULL,      -- keyed pseudonym of the national perpetrator record
    case_ref            VARCHAR,               -- keyed as on victims: links the two
    updated_at          TIMESTAMPTZ NOT NULL,
    status              VARCHAR NOT NULL,
    sex                 VARCHAR,
    citizenship         VARCHAR,
    age_band            VARCHAR,               -- content: NULL once superseded
    age_group           VARCHAR,
    registered_year     INTEGER,
    registered_month    INTEGER,
    roles               VARCHAR[],             -- NULL: not recorded
    structure           VARCHAR,
    relation_to_victim  VARCHAR,
    codelist_version    INTEGER NOT NULL,
    producer_batch_id   VARCHAR NOT NULL,
    produced_at         TIMESTAMPTZ NOT NULL,
    topic               VARCHAR NOT NULL,
    kafka_partition     INTEGER NOT NULL,
    kafka_offset        BIGINT NOT NULL,
    load_id             VARCHAR NOT NULL,
    validation_run_id   VARCHAR NOT NULL,
    loaded_at           TIMESTAMPTZ NOT NULL,
    content_md5         VARCHAR                -- set when the content was stripped
);
