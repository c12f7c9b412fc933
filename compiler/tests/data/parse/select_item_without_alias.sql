SELECT temperature, state.reported.humidity FROM 'sensors/#'
