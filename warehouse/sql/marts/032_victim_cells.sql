-- Pre-aggregated victim counts over the dimensions analysts ask for most (the trend
-- tables of the regional reports), so that their queries read thousands of rows instead
-- of every victim. A refresh adds the cells of the records it derived again and takes
-- away those they had before (warehouse/marts.py).
--
-- Counts of distinct persons do not add up in general: a person with two forms of
-- exploitation is one victim in the total. They do add up here because (1) only records
-- of persons with one record are aggregated (linked persons are counted apart, exactly,
-- by warehouse/queries.py), and (2) each row says whether it is the record's first form
-- (exploitation_first): a count totalled over forms keeps only those rows.
-- The dimensions are warehouse/queries.py's CELL_DIMENSIONS; a test keeps them in step.
CREATE OR REPLACE MACRO mart_victim_cells_of(victims, codes) AS TABLE
SELECT
    v.year,
    v.country,
    v.citizenship,
    v.sex,
    v.age_group,
    e.code     AS exploitation,
    e.is_first AS exploitation_first,
    count(*)   AS victims
FROM query_table(victims) v
JOIN query_table(codes) e USING (record_key)
WHERE NOT v.is_linked AND e.list = 'exploitation'
GROUP BY ALL;

-- The table, empty until warehouse/marts.py fills it.
CREATE TABLE IF NOT EXISTS mart_victim_cells AS FROM mart_victim_cells_of('mart_victims', 'mart_victim_codes') LIMIT 0;
