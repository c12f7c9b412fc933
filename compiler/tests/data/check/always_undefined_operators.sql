SELECT true + 1 AS a, [1] + [2] AS b, null + 'x' AS c, 'abc' > 1 AS d, 1 AND true AS e, -'x' AS f FROM 't'
