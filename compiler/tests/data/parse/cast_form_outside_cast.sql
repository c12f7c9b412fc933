SELECT upper(x AS String) AS a FROM 't'
