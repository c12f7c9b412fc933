SET @limit = 10 SELECT VALUE (SELECT VALUE x FROM readings WHERE x.v > @limit) FROM 'a/#'
