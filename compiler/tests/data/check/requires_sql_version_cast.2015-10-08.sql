SELECT cast(x AS Decimal) AS a, cast(x AS Bool) AS b, cast(x AS boolean) AS c, cast(x AS Int) AS ok FROM 't'
