SELECT regexp_matches(s, '(a)\1') AS m FROM 't'
