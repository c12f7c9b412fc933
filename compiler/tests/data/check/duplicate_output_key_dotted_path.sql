SELECT state.temperature, temperature FROM 't'
