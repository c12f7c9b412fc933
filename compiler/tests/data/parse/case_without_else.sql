SELECT CASE state.mode WHEN 'eco' THEN temperature - 2 END AS target FROM 't'
