SELECT upper(name FROM 't'
