SELECT upper(, 1 +* 2 AS x, {'a' 1} AS o FROM 't' WHERE AND b
