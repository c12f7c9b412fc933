SELECT upper(name), temperature * 2, 'const', (SELECT VALUE v FROM e) FROM 't'
