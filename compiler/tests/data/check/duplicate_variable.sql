SET @a = 1, @a = 2 SELECT @a AS a FROM 't'
