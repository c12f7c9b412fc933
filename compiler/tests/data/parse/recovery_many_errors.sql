SELECT a + , b #, (1 +) FROM 't' WHERE x = 1
