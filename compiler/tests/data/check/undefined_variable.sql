SELECT @nope AS a FROM 't'
