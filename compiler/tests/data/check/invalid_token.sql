SELECT temperature FROM 't' WHERE temperature > 30 & humidity < 5
