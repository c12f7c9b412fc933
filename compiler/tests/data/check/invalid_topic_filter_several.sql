SELECT * FROM 'x+/#/y#/+z'
