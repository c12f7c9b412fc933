SELECT a || b AS c FROM 't' WHERE !x
