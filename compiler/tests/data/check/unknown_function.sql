SELECT nosuch(1) AS a, uper(x) AS b FROM 't'
