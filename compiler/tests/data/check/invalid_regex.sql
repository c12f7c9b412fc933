SELECT regexp_substr(s, '(ab') AS a, regexp_matches(s, 'a{3,1}') AS b, regexp_matches(s, '[z-a]') AS c FROM 't'
