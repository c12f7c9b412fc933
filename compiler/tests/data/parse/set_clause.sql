SET @raw = decode(payload, 'base64'), @t = @raw.temperature SELECT @t AS t, @raw.meta.id AS id FROM 'sensors/+' WHERE @t > 30
