SELECT * FROM 't' WHERE isNull(x) OR regexp_matches(s, 'a') OR (x = 1) OR CASE m WHEN 1 THEN true ELSE false END
