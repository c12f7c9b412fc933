SELECT * FROM '$aws/things/+/shadow/update/delta'
