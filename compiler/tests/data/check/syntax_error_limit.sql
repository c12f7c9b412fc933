SELECT * FROM 'sensors/+' WHERE temperature > 30 LIMIT 10
