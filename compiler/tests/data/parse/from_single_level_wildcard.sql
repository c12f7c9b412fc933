SELECT * FROM 'factory/+/line/+/status'
