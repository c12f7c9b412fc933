SELECT * FROM 'sensors/+' WHERE
