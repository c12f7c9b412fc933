SET @decoded = decode(encode(*, 'base64'), 'base64'), @celsius = (@decoded.f - 32) * 5 / 9 SELECT @celsius AS celsius, @decoded.id AS id FROM 'sensors/+' WHERE @celsius > 20
