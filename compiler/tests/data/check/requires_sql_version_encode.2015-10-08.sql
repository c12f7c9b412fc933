SELECT encode(*, 'base64') AS b64 FROM 't'
