SELECT 'héllo wörld 🌍' AS greeting, uper(x) AS u FROM 't'
