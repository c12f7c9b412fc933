SELECT {'a': 1, "b": [1, 'two', {'c': null}], 'd': {}} AS o, [] AS empty, [[1, 2], [3, [4]]] AS nested, {'t': temperature, 'h': get(arr, 0)} AS computed FROM 't'
