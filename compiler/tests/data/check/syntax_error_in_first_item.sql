SELECT upper(name AS n, temperature FROM 'sensors/+' WHERE temperature > 30
