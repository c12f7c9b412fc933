SET @reading = (SELECT VALUE v FROM readings WHERE n = 'temperature')
SELECT topic(3) AS vehicle, get(@reading, 0) AS temperature, upper(status) AS status, {'lat': get(position, 0), 'lon': get(position, 1)} AS location
FROM 'fleet/trucks/+/status'
WHERE startswith(topic(3), 'truck-') AND cast(speed AS Int) >= 0
