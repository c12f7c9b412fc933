SELECT * FROM 'a/b';
