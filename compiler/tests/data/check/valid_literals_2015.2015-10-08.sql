SELECT cast(x AS Int) AS a, cast(x AS Double) AS b, concat(a, b) AS c, CASE mode WHEN 'a' THEN 1 ELSE 2 END AS d, 1E3 AS e, 'str' AS f FROM 'sensors/+' WHERE temperature > 30
