SELECT {'a': 1} AS o FROM 't'
