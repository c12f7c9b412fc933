SELECT CASE state WHEN 'on' THEN 1 ELSE 0 END AS s, {'k': [1, 2.5, -3e2]} AS o, cast(v AS Decimal) AS d FROM '$aws/things/+/shadow/update'
