SELECT a AS x, b AS x, c AS x, d AS y.z, e AS y FROM 't'
