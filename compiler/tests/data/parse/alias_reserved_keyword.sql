SELECT begin AS start, finish AS end FROM 't'
