SELECT * FROM 't' WHERE 'true'
