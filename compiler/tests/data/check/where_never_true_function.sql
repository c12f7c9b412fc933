SELECT * FROM 't' WHERE upper(status)
