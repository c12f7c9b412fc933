SELECT a - b - c AS l, a / b * c % d AS m, -a.b AS n, NOT NOT x AS o, (a + b) * c AS p FROM 't'
