SELECT 15 AS a, -5 AS b, 2.745 AS c, 1E3 AS d, -2.411E247 AS e, 5e-3 AS f, 0.5E+2 AS g, 0 AS h FROM 't'
