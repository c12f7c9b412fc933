SELECT cast(x, 'Int') AS a, cast(x) AS b FROM 't'
