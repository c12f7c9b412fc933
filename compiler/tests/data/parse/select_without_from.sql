SELECT temperature, topic() AS t WHERE temperature > 30
