SELECT SubStr(name, 1) AS s, TIMESTAMPS() AS t FROM 't'
