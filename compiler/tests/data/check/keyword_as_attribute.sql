SELECT * FROM 't' WHERE value > 10
