SELECT 'abc' - 1 AS a FROM 't'
