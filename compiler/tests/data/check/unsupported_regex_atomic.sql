SELECT regexp_matches(s, 'x(?>ab|a)c') AS m FROM 't'
