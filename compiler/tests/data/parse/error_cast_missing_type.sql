SELECT cast(x AS) AS a FROM 't'
