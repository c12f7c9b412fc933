SELECT state.reported.temperature AS t, a.b.c.d AS d, state.end AS e, doc.select AS s FROM 't'
