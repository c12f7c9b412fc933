SELECT
	temperature AS t,
  humidity AS h
FROM
  'sensors/+'
WHERE
  t > 1
