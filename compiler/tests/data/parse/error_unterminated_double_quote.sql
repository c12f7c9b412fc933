SELECT a FROM 't' WHERE b = "open
