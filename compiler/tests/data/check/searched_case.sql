SELECT CASE WHEN temperature > 30 THEN 'hot' ELSE 'ok' END AS level FROM 't'
