SELECT get_dynamodb('table', 'id', id) AS d FROM 't'
