SELECT readings[0] AS first, state.list[i + 1].v AS next FROM 't'
