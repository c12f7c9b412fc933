SELECT (state).reported AS r, get((SELECT v FROM a), 0).v AS v, (SELECT VALUE v FROM a).x AS x FROM 't'
