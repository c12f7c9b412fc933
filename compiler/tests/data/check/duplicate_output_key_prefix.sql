SELECT x AS a, y AS a.b FROM 't'
