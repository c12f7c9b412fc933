SELECT VALUE state.reported FROM '$aws/things/+/shadow/update/accepted'
