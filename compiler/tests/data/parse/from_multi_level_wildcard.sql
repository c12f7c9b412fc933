SELECT * FROM 'sensors/#'
