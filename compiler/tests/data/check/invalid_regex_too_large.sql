SELECT regexp_matches(x, '[0-9]{1,30000}') AS r FROM 't'
