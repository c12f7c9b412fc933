SELECT true AS a, FALSE AS b, Null AS c, TrUe AS d, NULL AS e, false AS f, null AS g FROM 't'
