SELECT convert(x AS Int) AS a FROM 't'
