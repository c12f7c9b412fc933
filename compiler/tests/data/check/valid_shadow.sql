SELECT state.reported.temperature AS state.desired.target, current.version AS version FROM '$aws/things/+/shadow/update/documents' WHERE state.reported.mode = 'eco' OR state.reported.mode <> 'off'
