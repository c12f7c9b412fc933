SELECT a[0] AS first, b.c[1].d AS x FROM 't'
