SELECT a < b < c AS x FROM 't'
