SELECT upper(x AS String) AS a, CONVERT(x AS Int) AS b FROM 't'
