-- Pre-aggregated victim counts over the dimensions analysts ask for most (the trend
-- tables of the regional reports), so that their queries read thousands of rows instead
-- of every victim. Rebuilt with the other marts.
--
-- Counts of distinct persons do not add up in general: a person with two forms of
-- exploitation is one victim in the total. They do add up here because (1) only records
-- of persons with one record are aggregated (linked persons are counted apart, exactly,
-- by warehouse/queries.py), and (2) each row says whether it is the record's first form
-- (exploitation_first): a count totalled over forms keeps only those rows.
-- The dimensions are warehouse/queries.py's CELL_DIMENSIONS; a test keeps them in step.
CREATE OR REPLACE TABLE mart_victim_cells AS
SELECT
    v.year,
    v.country,
    v.citizenship,
    v.sex,
    v.age_group,
    e.exploitation,
    e.is_first AS exploitation_first,
    count(*)   AS victims
FROM mart_victims v
JOIN mart_victim_exploitation e USING (record_key)
WHERE NOT v.is_linked
GROUP BY ALL;
