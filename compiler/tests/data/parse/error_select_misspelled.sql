SELET * FROM 'a/b'
