SELECT regexp_matches(s, '\d+(\.\d+') AS m FROM 't'
