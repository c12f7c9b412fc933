SET @1x = 2 SELECT @ AS a FROM 't'
