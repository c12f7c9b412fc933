//! What each policy action, variable, condition operator and resource type means.

/// One entry per `policy::ACTIONS`, in the same order. The Greengrass entries follow the
/// Greengrass V2 developer guide's device authentication page; the AWS IoT Wireless entries
/// the first sentence of each operation's description in the AWS SDK's service model.
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
    (
        "iot:AssumeRoleWithCertificate",
        "Exchange the device certificate for temporary AWS credentials. Resource: `rolealias/<alias>`.",
    ),
    ("iot:SendDirectMessage", "Send a direct message to a client. Resource: `client/<clientId>`."),
    ("iotjobsdata:DescribeJobExecution", "Read a job execution. Resource: `thing/<thingName>`."),
    ("iotjobsdata:GetPendingJobExecutions", "List a thing's pending job executions. Resource: `thing/<thingName>`."),
    (
        "iotjobsdata:StartNextPendingJobExecution",
        "Start a thing's next pending job execution. Resource: `thing/<thingName>`.",
    ),
    ("iotjobsdata:UpdateJobExecution", "Update a job execution's status. Resource: `thing/<thingName>`."),
    (
        "greengrass:GetComponentVersionArtifact",
        "A Greengrass core device downloads a component artifact for a deployment. Resource: `*`.",
    ),
    (
        "greengrass:ResolveComponentCandidates",
        "A Greengrass core device resolves the component versions a deployment needs. Resource: `*`.",
    ),
    (
        "greengrass:GetDeploymentConfiguration",
        "A Greengrass core device downloads a deployment document too large for MQTT. Resource: `*`.",
    ),
    (
        "greengrass:ListThingGroupsForCoreDevice",
        "A Greengrass core device lists its thing groups, to remove the components of groups it left. Resource: `*`.",
    ),
    (
        "greengrass:VerifyClientDeviceIdentity",
        "A Greengrass core device verifies a client device's certificate. Resource: `*`.",
    ),
    (
        "greengrass:VerifyClientDeviceIoTCertificateAssociation",
        "A Greengrass core device verifies that a client device is attached to its certificate. Resource: \
         `arn:aws:iot:<region>:<account>:thing/<clientDevice>`.",
    ),
    (
        "greengrass:PutCertificateAuthorities",
        "A Greengrass core device uploads the certificate authorities client devices trust it with. Resource: `*`.",
    ),
    (
        "greengrass:GetConnectivityInfo",
        "Read a core device's connectivity information. Resource: \
         `arn:aws:greengrass:<region>:<account>:/greengrass/things/<coreDevice>/connectivityInfo`.",
    ),
    (
        "greengrass:UpdateConnectivityInfo",
        "Update a core device's connectivity information. Resource: \
         `arn:aws:greengrass:<region>:<account>:/greengrass/things/<coreDevice>/connectivityInfo`.",
    ),
    (
        "greengrass:Discover",
        "A client device discovers the Greengrass core devices it may connect to. Resource: \
         `arn:aws:iot:<region>:<account>:thing/<clientDevice>`.",
    ),
    (
        "iotwireless:AssociateAwsAccountWithPartnerAccount",
        "AWS IoT Wireless API: Associates a partner account with your AWS account.",
    ),
    (
        "iotwireless:AssociateMulticastGroupWithFuotaTask",
        "AWS IoT Wireless API: Associate a multicast group with a FUOTA task.",
    ),
    (
        "iotwireless:AssociateWirelessDeviceWithFuotaTask",
        "AWS IoT Wireless API: Associate a wireless device with a FUOTA task.",
    ),
    (
        "iotwireless:AssociateWirelessDeviceWithMulticastGroup",
        "AWS IoT Wireless API: Associates a wireless device with a multicast group.",
    ),
    (
        "iotwireless:AssociateWirelessDeviceWithThing",
        "AWS IoT Wireless API: Associates a wireless device with a thing.",
    ),
    (
        "iotwireless:AssociateWirelessGatewayWithCertificate",
        "AWS IoT Wireless API: Associates a wireless gateway with a certificate.",
    ),
    (
        "iotwireless:AssociateWirelessGatewayWithThing",
        "AWS IoT Wireless API: Associates a wireless gateway with a thing.",
    ),
    ("iotwireless:CancelMulticastGroupSession", "AWS IoT Wireless API: Cancels an existing multicast group session."),
    (
        "iotwireless:CreateDestination",
        "AWS IoT Wireless API: Creates a new destination that maps a device message to an AWS IoT rule.",
    ),
    ("iotwireless:CreateDeviceProfile", "AWS IoT Wireless API: Creates a new device profile."),
    ("iotwireless:CreateFuotaTask", "AWS IoT Wireless API: Creates a FUOTA task."),
    ("iotwireless:CreateMulticastGroup", "AWS IoT Wireless API: Creates a multicast group."),
    (
        "iotwireless:CreateNetworkAnalyzerConfiguration",
        "AWS IoT Wireless API: Creates a new network analyzer configuration.",
    ),
    ("iotwireless:CreateServiceProfile", "AWS IoT Wireless API: Creates a new service profile."),
    ("iotwireless:CreateWirelessDevice", "AWS IoT Wireless API: Provisions a wireless device."),
    ("iotwireless:CreateWirelessGateway", "AWS IoT Wireless API: Provisions a wireless gateway."),
    ("iotwireless:CreateWirelessGatewayTask", "AWS IoT Wireless API: Creates a task for a wireless gateway."),
    ("iotwireless:CreateWirelessGatewayTaskDefinition", "AWS IoT Wireless API: Creates a gateway task definition."),
    ("iotwireless:DeleteDestination", "AWS IoT Wireless API: Deletes a destination."),
    ("iotwireless:DeleteDeviceProfile", "AWS IoT Wireless API: Deletes a device profile."),
    ("iotwireless:DeleteFuotaTask", "AWS IoT Wireless API: Deletes a FUOTA task."),
    (
        "iotwireless:DeleteMulticastGroup",
        "AWS IoT Wireless API: Deletes a multicast group if it is not in use by a FUOTA task.",
    ),
    (
        "iotwireless:DeleteNetworkAnalyzerConfiguration",
        "AWS IoT Wireless API: Deletes a network analyzer configuration.",
    ),
    ("iotwireless:DeleteQueuedMessages", "AWS IoT Wireless API: Remove queued messages from the downlink queue."),
    ("iotwireless:DeleteServiceProfile", "AWS IoT Wireless API: Deletes a service profile."),
    ("iotwireless:DeleteWirelessDevice", "AWS IoT Wireless API: Deletes a wireless device."),
    ("iotwireless:DeleteWirelessDeviceImportTask", "AWS IoT Wireless API: Delete an import task."),
    ("iotwireless:DeleteWirelessGateway", "AWS IoT Wireless API: Deletes a wireless gateway."),
    ("iotwireless:DeleteWirelessGatewayTask", "AWS IoT Wireless API: Deletes a wireless gateway task."),
    (
        "iotwireless:DeleteWirelessGatewayTaskDefinition",
        "AWS IoT Wireless API: Deletes a wireless gateway task definition.",
    ),
    (
        "iotwireless:DeregisterWirelessDevice",
        "AWS IoT Wireless API: Deregister a wireless device from AWS IoT Wireless.",
    ),
    (
        "iotwireless:DisassociateAwsAccountFromPartnerAccount",
        "AWS IoT Wireless API: Disassociates your AWS account from a partner account.",
    ),
    (
        "iotwireless:DisassociateMulticastGroupFromFuotaTask",
        "AWS IoT Wireless API: Disassociates a multicast group from a FUOTA task.",
    ),
    (
        "iotwireless:DisassociateWirelessDeviceFromFuotaTask",
        "AWS IoT Wireless API: Disassociates a wireless device from a FUOTA task.",
    ),
    (
        "iotwireless:DisassociateWirelessDeviceFromMulticastGroup",
        "AWS IoT Wireless API: Disassociates a wireless device from a multicast group.",
    ),
    (
        "iotwireless:DisassociateWirelessDeviceFromThing",
        "AWS IoT Wireless API: Disassociates a wireless device from its currently associated thing.",
    ),
    (
        "iotwireless:DisassociateWirelessGatewayFromCertificate",
        "AWS IoT Wireless API: Disassociates a wireless gateway from its currently associated certificate.",
    ),
    (
        "iotwireless:DisassociateWirelessGatewayFromThing",
        "AWS IoT Wireless API: Disassociates a wireless gateway from its currently associated thing.",
    ),
    ("iotwireless:GetDestination", "AWS IoT Wireless API: Gets information about a destination."),
    ("iotwireless:GetDeviceProfile", "AWS IoT Wireless API: Gets information about a device profile."),
    (
        "iotwireless:GetEventConfigurationByResourceTypes",
        "AWS IoT Wireless API: Get the event configuration based on resource types.",
    ),
    ("iotwireless:GetFuotaTask", "AWS IoT Wireless API: Gets information about a FUOTA task."),
    (
        "iotwireless:GetLogLevelsByResourceTypes",
        "AWS IoT Wireless API: Returns current default log levels or log levels by resource types.",
    ),
    (
        "iotwireless:GetMetricConfiguration",
        "AWS IoT Wireless API: Get the metric configuration status for this AWS account.",
    ),
    ("iotwireless:GetMetrics", "AWS IoT Wireless API: Get the summary metrics for this AWS account."),
    ("iotwireless:GetMulticastGroup", "AWS IoT Wireless API: Gets information about a multicast group."),
    ("iotwireless:GetMulticastGroupSession", "AWS IoT Wireless API: Gets information about a multicast group session."),
    ("iotwireless:GetNetworkAnalyzerConfiguration", "AWS IoT Wireless API: Get network analyzer configuration."),
    ("iotwireless:GetPartnerAccount", "AWS IoT Wireless API: Gets information about a partner account."),
    (
        "iotwireless:GetPosition",
        "AWS IoT Wireless API: Get the position information for a given resource. Deprecated in the API.",
    ),
    (
        "iotwireless:GetPositionConfiguration",
        "AWS IoT Wireless API: Get position configuration for a given resource. Deprecated in the API.",
    ),
    (
        "iotwireless:GetPositionEstimate",
        "AWS IoT Wireless API: Get estimated position information as a payload in GeoJSON format.",
    ),
    (
        "iotwireless:GetResourceEventConfiguration",
        "AWS IoT Wireless API: Get the event configuration for a particular resource identifier.",
    ),
    (
        "iotwireless:GetResourceLogLevel",
        "AWS IoT Wireless API: Fetches the log-level override, if any, for a given resource ID and resource type.",
    ),
    (
        "iotwireless:GetResourcePosition",
        "AWS IoT Wireless API: Get the position information for a given wireless device or a wireless gateway resource.",
    ),
    (
        "iotwireless:GetServiceEndpoint",
        "AWS IoT Wireless API: Gets the account-specific endpoint for Configuration and Update Server (CUPS) protocol or LoRaWAN Network Server (LNS) connections.",
    ),
    ("iotwireless:GetServiceProfile", "AWS IoT Wireless API: Gets information about a service profile."),
    ("iotwireless:GetWirelessDevice", "AWS IoT Wireless API: Gets information about a wireless device."),
    (
        "iotwireless:GetWirelessDeviceImportTask",
        "AWS IoT Wireless API: Get information about an import task and count of device onboarding summary information for the import task.",
    ),
    (
        "iotwireless:GetWirelessDeviceStatistics",
        "AWS IoT Wireless API: Gets operating information about a wireless device.",
    ),
    ("iotwireless:GetWirelessGateway", "AWS IoT Wireless API: Gets information about a wireless gateway."),
    (
        "iotwireless:GetWirelessGatewayCertificate",
        "AWS IoT Wireless API: Gets the ID of the certificate that is currently associated with a wireless gateway.",
    ),
    (
        "iotwireless:GetWirelessGatewayFirmwareInformation",
        "AWS IoT Wireless API: Gets the firmware version and other information about a wireless gateway.",
    ),
    (
        "iotwireless:GetWirelessGatewayStatistics",
        "AWS IoT Wireless API: Gets operating information about a wireless gateway.",
    ),
    ("iotwireless:GetWirelessGatewayTask", "AWS IoT Wireless API: Gets information about a wireless gateway task."),
    (
        "iotwireless:GetWirelessGatewayTaskDefinition",
        "AWS IoT Wireless API: Gets information about a wireless gateway task definition.",
    ),
    ("iotwireless:ListDestinations", "AWS IoT Wireless API: Lists the destinations registered to your AWS account."),
    (
        "iotwireless:ListDeviceProfiles",
        "AWS IoT Wireless API: Lists the device profiles registered to your AWS account.",
    ),
    (
        "iotwireless:ListDevicesForWirelessDeviceImportTask",
        "AWS IoT Wireless API: List the Sidewalk devices in an import task and their onboarding status.",
    ),
    (
        "iotwireless:ListEventConfigurations",
        "AWS IoT Wireless API: List event configurations where at least one event topic has been enabled.",
    ),
    ("iotwireless:ListFuotaTasks", "AWS IoT Wireless API: Lists the FUOTA tasks registered to your AWS account."),
    (
        "iotwireless:ListMulticastGroups",
        "AWS IoT Wireless API: Lists the multicast groups registered to your AWS account.",
    ),
    (
        "iotwireless:ListMulticastGroupsByFuotaTask",
        "AWS IoT Wireless API: List all multicast groups associated with a FUOTA task.",
    ),
    (
        "iotwireless:ListNetworkAnalyzerConfigurations",
        "AWS IoT Wireless API: Lists the network analyzer configurations.",
    ),
    (
        "iotwireless:ListPartnerAccounts",
        "AWS IoT Wireless API: Lists the partner accounts associated with your AWS account.",
    ),
    (
        "iotwireless:ListPositionConfigurations",
        "AWS IoT Wireless API: List position configurations for a given resource, such as positioning solvers. Deprecated in the API.",
    ),
    ("iotwireless:ListQueuedMessages", "AWS IoT Wireless API: List queued messages in the downlink queue."),
    (
        "iotwireless:ListServiceProfiles",
        "AWS IoT Wireless API: Lists the service profiles registered to your AWS account.",
    ),
    (
        "iotwireless:ListTagsForResource",
        "AWS IoT Wireless API: Lists the tags (metadata) you have assigned to the resource.",
    ),
    (
        "iotwireless:ListWirelessDeviceImportTasks",
        "AWS IoT Wireless API: List of import tasks and summary information of onboarding status of devices in each import task.",
    ),
    (
        "iotwireless:ListWirelessDevices",
        "AWS IoT Wireless API: Lists the wireless devices registered to your AWS account.",
    ),
    (
        "iotwireless:ListWirelessGatewayTaskDefinitions",
        "AWS IoT Wireless API: List the wireless gateway tasks definitions registered to your AWS account.",
    ),
    (
        "iotwireless:ListWirelessGateways",
        "AWS IoT Wireless API: Lists the wireless gateways registered to your AWS account.",
    ),
    (
        "iotwireless:PutPositionConfiguration",
        "AWS IoT Wireless API: Put position configuration for a given resource. Deprecated in the API.",
    ),
    (
        "iotwireless:PutResourceLogLevel",
        "AWS IoT Wireless API: Sets the log-level override for a resource ID and resource type.",
    ),
    (
        "iotwireless:ResetAllResourceLogLevels",
        "AWS IoT Wireless API: Removes the log-level overrides for all resources; wireless devices, wireless gateways, and FUOTA tasks.",
    ),
    (
        "iotwireless:ResetResourceLogLevel",
        "AWS IoT Wireless API: Removes the log-level override, if any, for a specific resource ID and resource type.",
    ),
    ("iotwireless:SendDataToMulticastGroup", "AWS IoT Wireless API: Sends the specified data to a multicast group."),
    (
        "iotwireless:SendDataToWirelessDevice",
        "AWS IoT Wireless API: Sends a decrypted application data frame to a device.",
    ),
    (
        "iotwireless:StartBulkAssociateWirelessDeviceWithMulticastGroup",
        "AWS IoT Wireless API: Starts a bulk association of all qualifying wireless devices with a multicast group.",
    ),
    (
        "iotwireless:StartBulkDisassociateWirelessDeviceFromMulticastGroup",
        "AWS IoT Wireless API: Starts a bulk disassociation of all qualifying wireless devices from a multicast group.",
    ),
    ("iotwireless:StartFuotaTask", "AWS IoT Wireless API: Starts a FUOTA task."),
    ("iotwireless:StartMulticastGroupSession", "AWS IoT Wireless API: Starts a multicast group session."),
    (
        "iotwireless:StartSingleWirelessDeviceImportTask",
        "AWS IoT Wireless API: Start import task for a single wireless device.",
    ),
    (
        "iotwireless:StartWirelessDeviceImportTask",
        "AWS IoT Wireless API: Start import task for provisioning Sidewalk devices in bulk using an S3 CSV file.",
    ),
    ("iotwireless:TagResource", "AWS IoT Wireless API: Adds a tag to a resource."),
    (
        "iotwireless:TestWirelessDevice",
        "AWS IoT Wireless API: Simulates a provisioned device by sending an uplink data payload of `Hello`.",
    ),
    ("iotwireless:UntagResource", "AWS IoT Wireless API: Removes one or more tags from a resource."),
    ("iotwireless:UpdateDestination", "AWS IoT Wireless API: Updates properties of a destination."),
    (
        "iotwireless:UpdateEventConfigurationByResourceTypes",
        "AWS IoT Wireless API: Update the event configuration based on resource types.",
    ),
    ("iotwireless:UpdateFuotaTask", "AWS IoT Wireless API: Updates properties of a FUOTA task."),
    (
        "iotwireless:UpdateLogLevelsByResourceTypes",
        "AWS IoT Wireless API: Set default log level, or log levels by resource types.",
    ),
    ("iotwireless:UpdateMetricConfiguration", "AWS IoT Wireless API: Update the summary metric configuration."),
    ("iotwireless:UpdateMulticastGroup", "AWS IoT Wireless API: Updates properties of a multicast group session."),
    ("iotwireless:UpdateNetworkAnalyzerConfiguration", "AWS IoT Wireless API: Update network analyzer configuration."),
    ("iotwireless:UpdatePartnerAccount", "AWS IoT Wireless API: Updates properties of a partner account."),
    (
        "iotwireless:UpdatePosition",
        "AWS IoT Wireless API: Update the position information of a resource. Deprecated in the API.",
    ),
    (
        "iotwireless:UpdateResourceEventConfiguration",
        "AWS IoT Wireless API: Update the event configuration for a particular resource identifier.",
    ),
    (
        "iotwireless:UpdateResourcePosition",
        "AWS IoT Wireless API: Update the position information of a given wireless device or a wireless gateway resource.",
    ),
    ("iotwireless:UpdateWirelessDevice", "AWS IoT Wireless API: Updates properties of a wireless device."),
    (
        "iotwireless:UpdateWirelessDeviceImportTask",
        "AWS IoT Wireless API: Update an import task to add more devices to the task.",
    ),
    ("iotwireless:UpdateWirelessGateway", "AWS IoT Wireless API: Updates properties of a wireless gateway."),
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
    (
        "arn:aws:greengrass:region:account:/greengrass/things/",
        "A core device's connectivity information (`<coreDevice>/connectivityInfo`), for \
         `greengrass:GetConnectivityInfo` and `greengrass:UpdateConnectivityInfo`.",
    ),
    ("arn:aws:greengrass:region:account:components:", "A Greengrass component version (`<name>:versions:<version>`)."),
    ("arn:aws:iotwireless:region:account:WirelessDevice/", "An AWS IoT Wireless device, for `iotwireless:` actions."),
    ("arn:aws:iotwireless:region:account:WirelessGateway/", "An AWS IoT Wireless gateway, for `iotwireless:` actions."),
];
