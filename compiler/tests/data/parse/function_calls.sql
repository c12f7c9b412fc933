SELECT timestamp() AS t, concat(a, b, c, d) AS c, encode(*, 'base64') AS e, topic() AS full, topic(2) AS second FROM 't'
