SELECT temperature, humidity AS temperature FROM 't'
