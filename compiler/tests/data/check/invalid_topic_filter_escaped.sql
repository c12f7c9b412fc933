SELECT * FROM 'it\'s/b+'
