SELECT (SELECT v FROM e WHERE n = 'temperature') AS temperatures FROM 't'
