SELECT [temperature, humidity] AS pair FROM 't'
