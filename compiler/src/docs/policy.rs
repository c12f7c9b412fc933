//! What each policy action, variable, condition operator and resource type means.

/// One entry per `policy::ACTIONS`, in the same order.
pub static ACTION_DOCS: &[(&str, &str)] = &[
    ("iot:Connect", "Connect to the message broker. Resource: `client/<clientId>`."),
    ("iot:DeleteConnection", "Disconnect a connected client. Resource: `client/<clientId>`."),
    ("iot:Publish", "Publish to an MQTT topic. Resource: `topic/<topic>`."),
    ("iot:RetainPublish", "Publish a retained message. Resource: `topic/<topic>`; `iot:Publish` is needed too."),
    ("iot:Subscribe", "Subscribe to a topic filter. Resource: `topicfilter/<filter>`."),
    ("iot:Receive", "Receive messages on a topic, checked on every delivery. Resource: `topic/<topic>`."),
    ("iot:GetRetainedMessage", "Read one retained message. Resource: `topic/<topic>`."),
    ("iot:ListRetainedMessages", "List the retained messages of the account. Resource: `*`."),
    ("iot:GetThingShadow", "Read a thing's shadow. Resource: `thing/<thingName>`."),
    ("iot:UpdateThingShadow", "Update a thing's shadow. Resource: `thing/<thingName>`."),
    ("iot:DeleteThingShadow", "Delete a thing's shadow. Resource: `thing/<thingName>`."),
    ("iot:ListNamedShadowsForThing", "List a thing's named shadows. Resource: `thing/<thingName>`."),
    (
        "iot:DescribeJobExecution",
        "Read a job execution (older spelling of `iotjobsdata:`). Resource: `thing/<thingName>`.",
    ),
    (
        "iot:GetPendingJobExecutions",
        "List a thing's pending job executions (older spelling). Resource: `thing/<thingName>`.",
    ),
    (
        "iot:StartNextPendingJobExecution",
        "Start a thing's next pending job execution (older spelling). Resource: `thing/<thingName>`.",
    ),
    ("iot:UpdateJobExecution", "Update a job execution's status (older spelling). Resource: `thing/<thingName>`."),
    ("iotjobsdata:DescribeJobExecution", "Read a job execution. Resource: `thing/<thingName>`."),
    ("iotjobsdata:GetPendingJobExecutions", "List a thing's pending job executions. Resource: `thing/<thingName>`."),
    (
        "iotjobsdata:StartNextPendingJobExecution",
        "Start a thing's next pending job execution. Resource: `thing/<thingName>`.",
    ),
    ("iotjobsdata:UpdateJobExecution", "Update a job execution's status. Resource: `thing/<thingName>`."),
    (
        "iot:AssumeRoleWithCertificate",
        "Exchange the device certificate for temporary AWS credentials. Resource: `rolealias/<alias>`.",
    ),
    ("iot:SendDirectMessage", "Send a direct message to a client. Resource: `client/<clientId>`."),
];

/// One entry per `policy::VARIABLES`, in the same order.
pub static VARIABLE_DOCS: &[(&str, &str)] = &[
    (
        "iot:ClientId",
        "The client ID the device connected with. In a `topicfilter/` resource, a client ID of `+` or `#` acts as a wildcard.",
    ),
    ("iot:DomainName", "The domain name of the endpoint the device connected to."),
    (
        "iot:Connection.Thing.ThingName",
        "The name of the thing whose client ID the device connected with, when the thing is attached to the certificate.",
    ),
    ("iot:Connection.Thing.ThingTypeName", "The type of the attached thing."),
    ("iot:Connection.Thing.IsAttached", "`true` when the thing named by the client ID is attached to the certificate."),
    ("iot:CertificateId", "The ID of the certificate the device connected with."),
    ("iot:Certificate.SerialNumber", "The serial number of the device certificate."),
    (
        "iot:Certificate.AvailableKeys",
        "The names of the certificate variables that have values (`iot:Certificate.Subject.CommonName`, ...). \
         Multi-valued: test it with `ForAnyValue:`/`ForAllValues:`; as `${...}` it is never substituted.",
    ),
    ("aws:SourceIp", "The IP address of the client."),
    ("aws:SourceVpc", "The VPC the request came through, for VPC endpoints."),
    ("aws:SourceVpce", "The VPC endpoint the request came through."),
    ("aws:VpcSourceIp", "The client's IP address inside the VPC."),
    ("aws:CurrentTime", "The time of the request, ISO 8601 (`currentTime` in an `iotrules authorize` context)."),
    ("aws:EpochTime", "The time of the request in seconds since 1970-01-01T00:00:00Z."),
    ("cognito-identity.amazonaws.com:sub", "The Amazon Cognito identity ID of the caller."),
    ("*", "`${*}`: a literal `*` character, not a wildcard."),
    ("?", "`${?}`: a literal `?` character, not a wildcard."),
    ("$", "`${$}`: a literal `$` character."),
];

/// One entry per `policy::Test::ALL`, in the same order.
pub static OPERATOR_DOCS: &[(&str, &str)] = &[
    ("StringEquals", "Exact, case-sensitive string match."),
    ("StringNotEquals", "Negated exact, case-sensitive string match."),
    ("StringEqualsIgnoreCase", "String match ignoring case."),
    ("StringNotEqualsIgnoreCase", "Negated string match ignoring case."),
    ("StringLike", "Case-sensitive match with `*` (any characters) and `?` (one character) wildcards."),
    ("StringNotLike", "Negated wildcard string match."),
    ("NumericEquals", "Numbers are equal."),
    ("NumericNotEquals", "Numbers are not equal."),
    ("NumericLessThan", "The key is less than the value."),
    ("NumericLessThanEquals", "The key is less than or equal to the value."),
    ("NumericGreaterThan", "The key is greater than the value."),
    ("NumericGreaterThanEquals", "The key is greater than or equal to the value."),
    (
        "DateEquals",
        "Dates are equal: any W3C ISO 8601 form (`2024`, `2024-06`, `2024-06-15`, `2024-06-15T12:00Z`, with \
         seconds and fractions) or epoch seconds.",
    ),
    ("DateNotEquals", "Dates are not equal."),
    ("DateLessThan", "The key's date is before the value."),
    ("DateLessThanEquals", "The key's date is at or before the value."),
    ("DateGreaterThan", "The key's date is after the value."),
    ("DateGreaterThanEquals", "The key's date is at or after the value."),
    ("Bool", "Boolean match (`true` or `false`)."),
    ("IpAddress", "The key's IP address lies in the CIDR range."),
    ("NotIpAddress", "The key's IP address lies outside the CIDR range."),
    ("ArnEquals", "ARN match, case-sensitive, with `*` and `?` wildcards."),
    ("ArnNotEquals", "Negated ARN match."),
    ("ArnLike", "ARN match, case-sensitive, with `*` and `?` wildcards."),
    ("ArnNotLike", "Negated ARN match."),
    (
        "BinaryEquals",
        "The key's value, as UTF-8 bytes, equals the base64-decoded value byte for byte. Takes no policy variables.",
    ),
    ("Null", "`true`: the key is missing; `false`: the key is present. Has no `IfExists` form."),
];

/// AWS IoT ARN resource types, with the text a resource starts with; `region` and `account`
/// are placeholders for the editor to fill in.
pub static ARN_RESOURCES: &[(&str, &str)] = &[
    (
        "arn:aws:iot:region:account:client/",
        "A client ID, for `iot:Connect`, `iot:DeleteConnection` and `iot:SendDirectMessage`.",
    ),
    (
        "arn:aws:iot:region:account:topic/",
        "A topic name, for `iot:Publish`, `iot:Receive`, `iot:RetainPublish` and `iot:GetRetainedMessage`.",
    ),
    ("arn:aws:iot:region:account:topicfilter/", "A topic filter, for `iot:Subscribe`."),
    ("arn:aws:iot:region:account:thing/", "A thing name, for shadow and job actions."),
    ("arn:aws:iot:region:account:rolealias/", "A role alias, for `iot:AssumeRoleWithCertificate`."),
];
