SELECT * FROM 'a/#/b'
