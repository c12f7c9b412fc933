SELECT VALUE transform('enrichArray', meta, readings) FROM 't'
