SELECT * FROM '$aws/rules/my_rule/telemetry'
