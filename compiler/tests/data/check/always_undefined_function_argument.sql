SELECT sqrt('nine') AS a, upper(null) AS b, abs({'a': 1}) AS c FROM 't'
