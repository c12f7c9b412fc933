SELECT * WHERE temperature > 30
