SELECT temperature,
  humidity AS h,
  uper(name) AS n
FROM 'sensors/+'
