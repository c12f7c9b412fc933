SELECT * FROM topic/subtopic
