SELECT decode(x, 'base64').temperature AS t, get(readings, 0).value.celsius AS c FROM 't'
