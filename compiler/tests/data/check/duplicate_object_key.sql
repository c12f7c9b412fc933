SELECT {'a': 1, 'b': 2, "a": 3} AS o FROM 't'
