SET @v = {'a': [1, 2]} SELECT VALUE @v.a FROM 't'
