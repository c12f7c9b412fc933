SELECT value FROM 't'
