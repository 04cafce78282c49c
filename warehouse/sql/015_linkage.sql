-- Linkage encodings of victim records (producers/linkage.py): keyed Bloom filters of the
-- names and keyed birth-date tokens. The hub compares them; it holds no key to read them.
-- Added to the raw table in place, so a warehouse made before linkage keeps its rows
-- (they stay NULL: such records are counted, never linked).
ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS linkage_key_id VARCHAR;
ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS linkage_clk VARCHAR;       -- base64, 1024 bits
ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS linkage_birth_year VARCHAR;
ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS linkage_birth_month VARCHAR;
ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS linkage_birth_day VARCHAR;

-- Regional person of each linked record, recomputed from the current records at every
-- refresh (warehouse/person_linkage.py); records not in it are persons of their own.
CREATE TABLE IF NOT EXISTS person_links (
    country     VARCHAR NOT NULL,
    record_ref  VARCHAR NOT NULL,
    person_key  VARCHAR NOT NULL,   -- the smallest country:record_ref of the linked group
    score       DOUBLE NOT NULL,    -- match score of the link that joined the record (Dice + date)
    PRIMARY KEY (country, record_ref)
);
