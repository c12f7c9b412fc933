SELECT *, regexp_replace(id, '[0-9]+', 'n') AS r, get(arr, 0).x AS g FROM 'devices/#' WHERE NOT isUndefined(id) AND (a = 1 OR b <> 'x')
