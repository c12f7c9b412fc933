ſELECT x FROM 't'
