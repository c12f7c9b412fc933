SELECT Round(x) AS a, LTRIM(s) AS b, Nanvl(x, 0) AS c, isnull(x) AS d, IsUndefined(y) AS e FROM 't'
