SELECT bitand(true, 1) AS a FROM 't'
