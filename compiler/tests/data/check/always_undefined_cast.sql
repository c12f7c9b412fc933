SELECT cast('abc' AS Int) AS a, cast(null AS String) AS b FROM 't'
