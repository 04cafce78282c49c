-- One bridge for every ;-separated code list of a victim (exploitation, means of control,
-- travel, communication): one row per record, list and code; a record with none of a
-- list has one row 'not_recorded', so counts by a list count every victim at least once.
-- Keyed by record: a linked person's two records may record different codes.
-- Each code once per record; is_first marks one row of each record and list, the one a
-- count totalled over the list keeps, so that such a total counts the victim once.
CREATE OR REPLACE MACRO mart_victim_codes_of(victims) AS TABLE
SELECT person_key, record_key, list, unnest(codes) AS code, unnest(range(len(codes))) = 0 AS is_first
FROM (
    SELECT person_key, record_key, item.list AS list,
           coalesce(nullif(list_sort(list_distinct(item.codes)), []), ['not_recorded']) AS codes
    FROM (
        SELECT person_key, record_key, unnest([
            {'list': 'exploitation', 'codes': exploitation_types},
            {'list': 'means_of_control', 'codes': means_of_control},
            {'list': 'means_of_travel', 'codes': means_of_travel},
            {'list': 'means_of_communication', 'codes': means_of_communication}
        ]) AS item
        FROM query_table(victims)
    )
);

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_victim_codes AS FROM mart_victim_codes_of('mart_victims') LIMIT 0;

-- Each list as the queries join it (warehouse/queries.py), its code under the list's name.
CREATE OR REPLACE VIEW mart_victim_exploitation AS
SELECT person_key, record_key, code AS exploitation, is_first FROM mart_victim_codes WHERE list = 'exploitation';

CREATE OR REPLACE VIEW mart_victim_control AS
SELECT person_key, record_key, code AS means_of_control, is_first FROM mart_victim_codes WHERE list = 'means_of_control';

CREATE OR REPLACE VIEW mart_victim_travel AS
SELECT person_key, record_key, code AS means_of_travel, is_first FROM mart_victim_codes WHERE list = 'means_of_travel';

CREATE OR REPLACE VIEW mart_victim_communication AS
SELECT person_key, record_key, code AS means_of_communication, is_first
FROM mart_victim_codes WHERE list = 'means_of_communication';
