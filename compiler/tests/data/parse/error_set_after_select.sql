SELECT @a AS a SET @a = 1 FROM 't'
