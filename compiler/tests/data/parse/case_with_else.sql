SELECT CASE color WHEN 'red' THEN 1 WHEN 'green' THEN 2 ELSE 0 END AS code FROM 't'
