SELECT 'it''s' AS a FROM 't'
