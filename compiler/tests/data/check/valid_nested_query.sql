SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v AS temperature, transform('enrichArray', {'site': site}, (SELECT VALUE r FROM readings WHERE r.ok = true)) AS enriched FROM 'sensors/+'
