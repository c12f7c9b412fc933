SELECT temperature AS value, humidity AS set, pressure AS state.from, level AS state.value.end FROM 'sensors/+'
