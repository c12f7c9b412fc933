SELECT (5).x AS a, timestamp().ms AS b, 'abc'.len AS c FROM 't'
