-- Victim records whose versions show a sign of probing (warehouse/superseded.py): one
-- withdrawn, or changed back to what it said two versions before, within a week of
-- the version before. Kept up to date by every refresh for the records it touched, so
-- that the data-protection report sums them instead of reading every version.
CREATE TABLE IF NOT EXISTS victim_probing_flags (
    country         VARCHAR NOT NULL,
    record_ref      VARCHAR NOT NULL,
    withdrawn_soon  BOOLEAN NOT NULL,
    changed_back    BOOLEAN NOT NULL
);
