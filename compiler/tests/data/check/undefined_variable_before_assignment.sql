SET @a = @b + 1, @b = 2 SELECT @a AS a FROM 't'
