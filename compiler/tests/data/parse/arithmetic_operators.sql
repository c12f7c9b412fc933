SELECT a + 1 AS add, a - 1 AS sub, a * 2 AS mul, a / 2 AS div, a % 2 AS rem, 'x' + a AS concat FROM 't'
