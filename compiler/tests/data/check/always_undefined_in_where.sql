SELECT 'abc' - 1 AS a, CASE 'abc' - 1 WHEN 1 THEN 'x' END AS b FROM 't' WHERE ('abc' - 1) > 0
