SELECT *, temperature * 1.8 + 32 AS fahrenheit, timestamp() AS received_at FROM 'sensors/+/telemetry'
