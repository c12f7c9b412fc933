SELECT temperature FROM 'sensors/+' WHERE temperature > 50 AND startswith(topic(2), 'dev')
