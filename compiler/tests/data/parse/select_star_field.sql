SELECT *.temperature AS t, * AS message FROM 'sensors/+'
