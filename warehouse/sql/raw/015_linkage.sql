-- Linkage encodings live in the linkage store beside the warehouse, never here
-- (warehouse/linkage_store.py); the warehouse keeps what linkage concluded.

-- Regional person of each linked record, recomputed from the current records at every
-- refresh (warehouse/person_linkage.py); records not in it are persons of their own.
CREATE TABLE IF NOT EXISTS person_links (
    country     VARCHAR NOT NULL,
    record_ref  VARCHAR NOT NULL,
    person_key  VARCHAR NOT NULL,   -- the smallest country:record_ref of the linked group
    score       DOUBLE NOT NULL,    -- match score of the link that joined the record (Dice + date)
    PRIMARY KEY (country, record_ref)
);

-- The linkage that wrote person_links: its generation and rules, matched against the
-- linkage store's before a refresh re-links only the blocks that changed
-- (warehouse/link_blocks.py).
CREATE TABLE IF NOT EXISTS person_links_generation (
    generation  BIGINT NOT NULL,
    rules       VARCHAR NOT NULL
);
