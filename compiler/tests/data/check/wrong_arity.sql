SELECT upper() AS a, substring('abc') AS b, concat() AS c, round(1, 2) AS d, timestamp(1) AS e, decode(x, 'proto', 'bucket') AS f FROM 't'
