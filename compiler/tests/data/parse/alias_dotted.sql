SELECT temperature AS state.debug, humidity AS state.reported.humidity FROM 'sensors/+'
