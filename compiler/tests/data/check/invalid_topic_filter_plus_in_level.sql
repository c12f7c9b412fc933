SELECT * FROM 'a/b+'
