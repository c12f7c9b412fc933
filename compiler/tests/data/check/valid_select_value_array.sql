SELECT VALUE [temperature, humidity] FROM 't'
