SELECT cast(x AS Float) AS a, cast(x AS Strng) AS b, cast(x AS Long) AS c, cast(x AS value) AS d FROM 't'
