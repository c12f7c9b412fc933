SELECT 'abc AS a FROM 't'
