SELECT regexp_matches(s, '\w+(?=\d)') AS m FROM 't'
