SELECT * FROM 'sensors/+' -- all sensors
