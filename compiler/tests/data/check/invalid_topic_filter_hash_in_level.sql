SELECT * FROM 'a/b#'
