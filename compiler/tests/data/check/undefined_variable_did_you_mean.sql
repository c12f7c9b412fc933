SET @temperature = t SELECT @temperatrue AS a FROM 't'
