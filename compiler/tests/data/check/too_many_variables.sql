SET @v1 = a, @v2 = b, @v3 = c, @v4 = d, @v5 = e, @v6 = f, @v7 = g, @v8 = h, @v9 = i, @v10 = j, @v11 = k
SELECT @v1 AS first, @v11 AS last FROM 'sensors/+'
