SELECT regexp_matches(name, '(?-u)[a-z]+') AS lower_ascii FROM 'devices/+'
