SELECT temperature AS t, upper(name) AS n FROM 'sensors/+/telemetry' WHERE temperature > 30
