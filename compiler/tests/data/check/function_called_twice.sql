SELECT get_dynamodb('t', 'k', k, 'arn:aws:iam::1:role/r').a AS a, get_dynamodb('t', 'k', k, 'arn:aws:iam::1:role/r').b AS b FROM 't'
