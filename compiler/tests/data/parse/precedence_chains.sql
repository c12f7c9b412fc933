SELECT a - b - c AS l, a * b + c * d - e / f % g AS m, (a + b) * (c) AS p, -(a) - -b * c AS n, a OR b AND c OR NOT d AND e OR (f OR g) AND h AS q FROM 't' WHERE x = 1 AND y IN z OR NOT (a) = b + c
