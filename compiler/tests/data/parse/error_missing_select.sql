* FROM 'a/b' WHERE x = 1
