SELECT a FROM 't' -- only on Tuesdays
