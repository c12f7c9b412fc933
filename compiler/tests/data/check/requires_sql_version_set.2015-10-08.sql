SET @t = temperature, @h = humidity SELECT @t AS t, @h AS h FROM 't'
