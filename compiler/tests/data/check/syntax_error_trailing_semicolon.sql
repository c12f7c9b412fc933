SELECT * FROM 'sensors/+' WHERE temperature > 30;
