SELECT * FROM 't' WHERE NOT a = b AND c OR d + e * -f
