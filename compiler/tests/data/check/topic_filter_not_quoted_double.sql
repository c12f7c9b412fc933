SELECT * FROM "sensors/+/telemetry"
