set @x = 1 select value upper(name) from 'a/b' where x = 'on' and not y or z
