SELECT isString(a) AS a, isNumber(b) AS b, isBoolean(c) AS c, isObject(d) AS d, isArray(e) AS e FROM 't'
