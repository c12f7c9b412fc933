SELECT regexp_substr(s, 'price(?=USD)') AS m FROM 't'
