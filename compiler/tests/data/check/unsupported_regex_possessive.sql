SELECT regexp_replace(s, 'a*+b', 'x') AS m FROM 't'
