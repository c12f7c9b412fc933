//! AWS IoT policy documents: reading them with exact source positions, checking them as AWS
//! IoT Core's CreatePolicy does, and evaluating authorization requests against them as the
//! message broker does (`eval`, the reference).

pub mod compiled;
mod conditions;
pub mod context;
mod document;
pub mod eval;
pub mod glob;
mod lint;
mod request;
mod variables;

pub use document::{MAX_POLICY_CHARS, check_policy};
pub use lint::VARIABLES;
pub use request::{RequestReport, check_request};

use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// The `Version` AWS IoT policies are written in.
pub const POLICY_VERSION: &str = "2012-10-17";

/// IAM's first policy language, which IAM's grammar still accepts: `${...}` is literal text
/// under it. Accepted with a warning.
pub const LEGACY_POLICY_VERSION: &str = "2008-10-17";

/// A policy document that checked without errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Action`, or `NotAction` when `negated`.
    pub actions: Targets,
    /// `Resource`, or `NotResource` when `negated`.
    pub resources: Targets,
    /// Every condition must hold (operators and keys are ANDed).
    pub conditions: Vec<Condition>,
    /// Whether `${...}` policy variables are substituted: false under `Version` 2008-10-17,
    /// where they are literal text. Kept per statement so each evaluates on its own.
    pub variables: bool,
    /// The statement object in the document.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The patterns of `Action`/`Resource`, or of their `Not` forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    pub negated: bool,
    pub patterns: Vec<Spanned>,
}

/// A string from the document and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned {
    pub text: String,
    pub span: Span,
}

/// `"Operator": {"key": [values]}`, one key of one operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    /// As written; keys compare case-insensitively.
    pub key: Spanned,
    /// Several values are ORed (ANDed for negated operators); Booleans and numbers are kept
    /// as their JSON text.
    pub values: Vec<Spanned>,
}

/// A condition operator, split into its parts: `ForAnyValue:StringLikeIfExists` is
/// `{set: AnyValue, test: StringLike, if_exists: true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub set: SetQualifier,
    pub test: Test,
    pub if_exists: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    /// A single-valued key (a multi-valued key then matches when any value does).
    Single,
    AnyValue,
    AllValues,
}

/// The comparison an operator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    BinaryEquals,
    Null,
}

impl Test {
    pub const ALL: [(Test, &'static str); 27] = [
        (Test::StringEquals, "StringEquals"),
        (Test::StringNotEquals, "StringNotEquals"),
        (Test::StringEqualsIgnoreCase, "StringEqualsIgnoreCase"),
        (Test::StringNotEqualsIgnoreCase, "StringNotEqualsIgnoreCase"),
        (Test::StringLike, "StringLike"),
        (Test::StringNotLike, "StringNotLike"),
        (Test::NumericEquals, "NumericEquals"),
        (Test::NumericNotEquals, "NumericNotEquals"),
        (Test::NumericLessThan, "NumericLessThan"),
        (Test::NumericLessThanEquals, "NumericLessThanEquals"),
        (Test::NumericGreaterThan, "NumericGreaterThan"),
        (Test::NumericGreaterThanEquals, "NumericGreaterThanEquals"),
        (Test::DateEquals, "DateEquals"),
        (Test::DateNotEquals, "DateNotEquals"),
        (Test::DateLessThan, "DateLessThan"),
        (Test::DateLessThanEquals, "DateLessThanEquals"),
        (Test::DateGreaterThan, "DateGreaterThan"),
        (Test::DateGreaterThanEquals, "DateGreaterThanEquals"),
        (Test::Bool, "Bool"),
        (Test::IpAddress, "IpAddress"),
        (Test::NotIpAddress, "NotIpAddress"),
        (Test::ArnEquals, "ArnEquals"),
        (Test::ArnNotEquals, "ArnNotEquals"),
        (Test::ArnLike, "ArnLike"),
        (Test::ArnNotLike, "ArnNotLike"),
        (Test::BinaryEquals, "BinaryEquals"),
        (Test::Null, "Null"),
    ];

    /// Negated tests hold when the key is missing, and need every value to hold.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Test::StringNotEquals
                | Test::StringNotEqualsIgnoreCase
                | Test::StringNotLike
                | Test::NumericNotEquals
                | Test::DateNotEquals
                | Test::NotIpAddress
                | Test::ArnNotEquals
                | Test::ArnNotLike
        )
    }
}

impl Operator {
    /// Reads an operator as written (`ForAllValues:StringEqualsIfExists`); case-sensitive, as
    /// IAM's operators are.
    pub fn parse(text: &str) -> Option<Operator> {
        let (set, rest) = if let Some(rest) = text.strip_prefix("ForAnyValue:") {
            (SetQualifier::AnyValue, rest)
        } else if let Some(rest) = text.strip_prefix("ForAllValues:") {
            (SetQualifier::AllValues, rest)
        } else {
            (SetQualifier::Single, text)
        };
        let (name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(name) => (name, true),
            None => (rest, false),
        };
        let test = Test::ALL.iter().find(|(_, known)| *known == name).map(|(test, _)| *test)?;
        // `Null` tests presence itself, so it has no IfExists form.
        if test == Test::Null && if_exists {
            return None;
        }
        Some(Operator { set, test, if_exists })
    }
}

/// The result of reading and checking one policy document.
#[derive(Clone, Debug)]
pub struct PolicyReport {
    /// Present when the document has no errors.
    pub policy: Option<Policy>,
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicyReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The `iot:` condition keys AWS documents (certificate and thing attributes are recognised
/// by their prefix). The `${...}` variables are a different list: see `lint`.
pub(crate) const IOT_KEYS: &[&str] = &[
    "iot:ClientId",
    "iot:DomainName",
    "iot:Connection.Thing.ThingName",
    "iot:Connection.Thing.ThingTypeName",
    "iot:Connection.Thing.IsAttached",
    "iot:CertificateId",
    "iot:Certificate.SerialNumber",
    "iot:Certificate.AvailableKeys",
    "iot:ConnectAttributes",
    "iot:LastWillTopic",
    "iot:Topic",
];

/// The services whose actions AWS IoT policies carry, by action prefix. An action of one of
/// them that [`ACTIONS`] does not list is reported with a warning and evaluated as written; an
/// action of any other service is an error.
pub const SERVICES: &[&str] = &["iot", "iotjobsdata", "greengrass", "iotwireless"];

/// The actions an AWS IoT policy grants, as AWS spells them, by service: the IoT data plane,
/// the jobs data plane (current documentation uses `iotjobsdata:`, older policies `iot:`), the
/// Greengrass V2 data plane a core or client device calls with its certificate (the Greengrass
/// developer guide's device authentication page), and the AWS IoT Wireless API (its operations
/// as the AWS SDK's service model names them). The one table the reader, the evaluators, the
/// documentation (`docs::ACTION_DOCS`, same order) and the editor schema follow.
pub const ACTIONS: &[&str] = &[
    "iot:Connect",
    "iot:DeleteConnection",
    "iot:Publish",
    "iot:RetainPublish",
    "iot:Subscribe",
    "iot:Receive",
    "iot:GetRetainedMessage",
    "iot:ListRetainedMessages",
    "iot:GetThingShadow",
    "iot:UpdateThingShadow",
    "iot:DeleteThingShadow",
    "iot:ListNamedShadowsForThing",
    "iot:DescribeJobExecution",
    "iot:GetPendingJobExecutions",
    "iot:StartNextPendingJobExecution",
    "iot:UpdateJobExecution",
    "iot:AssumeRoleWithCertificate",
    "iot:SendDirectMessage",
    "iotjobsdata:DescribeJobExecution",
    "iotjobsdata:GetPendingJobExecutions",
    "iotjobsdata:StartNextPendingJobExecution",
    "iotjobsdata:UpdateJobExecution",
    "greengrass:GetComponentVersionArtifact",
    "greengrass:ResolveComponentCandidates",
    "greengrass:GetDeploymentConfiguration",
    "greengrass:ListThingGroupsForCoreDevice",
    "greengrass:VerifyClientDeviceIdentity",
    "greengrass:VerifyClientDeviceIoTCertificateAssociation",
    "greengrass:PutCertificateAuthorities",
    "greengrass:GetConnectivityInfo",
    "greengrass:UpdateConnectivityInfo",
    "greengrass:Discover",
    "iotwireless:AssociateAwsAccountWithPartnerAccount",
    "iotwireless:AssociateMulticastGroupWithFuotaTask",
    "iotwireless:AssociateWirelessDeviceWithFuotaTask",
    "iotwireless:AssociateWirelessDeviceWithMulticastGroup",
    "iotwireless:AssociateWirelessDeviceWithThing",
    "iotwireless:AssociateWirelessGatewayWithCertificate",
    "iotwireless:AssociateWirelessGatewayWithThing",
    "iotwireless:CancelMulticastGroupSession",
    "iotwireless:CreateDestination",
    "iotwireless:CreateDeviceProfile",
    "iotwireless:CreateFuotaTask",
    "iotwireless:CreateMulticastGroup",
    "iotwireless:CreateNetworkAnalyzerConfiguration",
    "iotwireless:CreateServiceProfile",
    "iotwireless:CreateWirelessDevice",
    "iotwireless:CreateWirelessGateway",
    "iotwireless:CreateWirelessGatewayTask",
    "iotwireless:CreateWirelessGatewayTaskDefinition",
    "iotwireless:DeleteDestination",
    "iotwireless:DeleteDeviceProfile",
    "iotwireless:DeleteFuotaTask",
    "iotwireless:DeleteMulticastGroup",
    "iotwireless:DeleteNetworkAnalyzerConfiguration",
    "iotwireless:DeleteQueuedMessages",
    "iotwireless:DeleteServiceProfile",
    "iotwireless:DeleteWirelessDevice",
    "iotwireless:DeleteWirelessDeviceImportTask",
    "iotwireless:DeleteWirelessGateway",
    "iotwireless:DeleteWirelessGatewayTask",
    "iotwireless:DeleteWirelessGatewayTaskDefinition",
    "iotwireless:DeregisterWirelessDevice",
    "iotwireless:DisassociateAwsAccountFromPartnerAccount",
    "iotwireless:DisassociateMulticastGroupFromFuotaTask",
    "iotwireless:DisassociateWirelessDeviceFromFuotaTask",
    "iotwireless:DisassociateWirelessDeviceFromMulticastGroup",
    "iotwireless:DisassociateWirelessDeviceFromThing",
    "iotwireless:DisassociateWirelessGatewayFromCertificate",
    "iotwireless:DisassociateWirelessGatewayFromThing",
    "iotwireless:GetDestination",
    "iotwireless:GetDeviceProfile",
    "iotwireless:GetEventConfigurationByResourceTypes",
    "iotwireless:GetFuotaTask",
    "iotwireless:GetLogLevelsByResourceTypes",
    "iotwireless:GetMetricConfiguration",
    "iotwireless:GetMetrics",
    "iotwireless:GetMulticastGroup",
    "iotwireless:GetMulticastGroupSession",
    "iotwireless:GetNetworkAnalyzerConfiguration",
    "iotwireless:GetPartnerAccount",
    "iotwireless:GetPosition",
    "iotwireless:GetPositionConfiguration",
    "iotwireless:GetPositionEstimate",
    "iotwireless:GetResourceEventConfiguration",
    "iotwireless:GetResourceLogLevel",
    "iotwireless:GetResourcePosition",
    "iotwireless:GetServiceEndpoint",
    "iotwireless:GetServiceProfile",
    "iotwireless:GetWirelessDevice",
    "iotwireless:GetWirelessDeviceImportTask",
    "iotwireless:GetWirelessDeviceStatistics",
    "iotwireless:GetWirelessGateway",
    "iotwireless:GetWirelessGatewayCertificate",
    "iotwireless:GetWirelessGatewayFirmwareInformation",
    "iotwireless:GetWirelessGatewayStatistics",
    "iotwireless:GetWirelessGatewayTask",
    "iotwireless:GetWirelessGatewayTaskDefinition",
    "iotwireless:ListDestinations",
    "iotwireless:ListDeviceProfiles",
    "iotwireless:ListDevicesForWirelessDeviceImportTask",
    "iotwireless:ListEventConfigurations",
    "iotwireless:ListFuotaTasks",
    "iotwireless:ListMulticastGroups",
    "iotwireless:ListMulticastGroupsByFuotaTask",
    "iotwireless:ListNetworkAnalyzerConfigurations",
    "iotwireless:ListPartnerAccounts",
    "iotwireless:ListPositionConfigurations",
    "iotwireless:ListQueuedMessages",
    "iotwireless:ListServiceProfiles",
    "iotwireless:ListTagsForResource",
    "iotwireless:ListWirelessDeviceImportTasks",
    "iotwireless:ListWirelessDevices",
    "iotwireless:ListWirelessGatewayTaskDefinitions",
    "iotwireless:ListWirelessGateways",
    "iotwireless:PutPositionConfiguration",
    "iotwireless:PutResourceLogLevel",
    "iotwireless:ResetAllResourceLogLevels",
    "iotwireless:ResetResourceLogLevel",
    "iotwireless:SendDataToMulticastGroup",
    "iotwireless:SendDataToWirelessDevice",
    "iotwireless:StartBulkAssociateWirelessDeviceWithMulticastGroup",
    "iotwireless:StartBulkDisassociateWirelessDeviceFromMulticastGroup",
    "iotwireless:StartFuotaTask",
    "iotwireless:StartMulticastGroupSession",
    "iotwireless:StartSingleWirelessDeviceImportTask",
    "iotwireless:StartWirelessDeviceImportTask",
    "iotwireless:TagResource",
    "iotwireless:TestWirelessDevice",
    "iotwireless:UntagResource",
    "iotwireless:UpdateDestination",
    "iotwireless:UpdateEventConfigurationByResourceTypes",
    "iotwireless:UpdateFuotaTask",
    "iotwireless:UpdateLogLevelsByResourceTypes",
    "iotwireless:UpdateMetricConfiguration",
    "iotwireless:UpdateMulticastGroup",
    "iotwireless:UpdateNetworkAnalyzerConfiguration",
    "iotwireless:UpdatePartnerAccount",
    "iotwireless:UpdatePosition",
    "iotwireless:UpdateResourceEventConfiguration",
    "iotwireless:UpdateResourcePosition",
    "iotwireless:UpdateWirelessDevice",
    "iotwireless:UpdateWirelessDeviceImportTask",
    "iotwireless:UpdateWirelessGateway",
];
