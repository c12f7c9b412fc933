SELECT * FROM sensors
