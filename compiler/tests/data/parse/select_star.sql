SELECT * FROM 'topic/subtopic'
