SELECT upper('abc' - 1) AS a, ('abc' - 1) * 2 + 3 AS b FROM 't'
