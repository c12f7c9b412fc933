SET @a = 1
