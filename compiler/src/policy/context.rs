//! What AWS knows about the connection making a request: the values of condition keys and
//! policy variables. Key names compare case-insensitively, certificate attribute names too;
//! thing attribute names and every value keep their case.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::conditions::parse_date;

/// The subject and issuer attributes behind `iot:Certificate.Subject.<attribute>`.
pub(crate) const CERTIFICATE_ATTRIBUTES: &[&str] = &[
    "DistinguishedNameQualifier",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "CommonName",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
];

/// The types behind `iot:Certificate.Subject.AlternativeName.<type>`.
pub(crate) const ALTERNATIVE_NAME_TYPES: &[&str] =
    &["RFC822Name", "DNSName", "DirectoryName", "UniformResourceIdentifier", "IPAddress"];

/// What AWS knows about the connection making a request (the `--context` file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub region: String,
    pub account: String,
    pub client_id: Option<String>,
    /// Present only when a thing is associated with the connection.
    pub thing_name: Option<String>,
    pub thing_type_name: Option<String>,
    pub thing_attributes: BTreeMap<String, String>,
    pub is_attached: Option<bool>,
    pub certificate_id: Option<String>,
    /// The certificate's serial number, as `iot:Certificate.SerialNumber` gives it.
    pub serial_number: Option<String>,
    /// Subject and issuer attributes; the first value is the default.
    pub subject: BTreeMap<String, Vec<String>>,
    pub issuer: BTreeMap<String, Vec<String>>,
    pub source_ip: Option<String>,
    pub source_vpce: Option<String>,
    pub connect_attributes: Vec<String>,
    /// A topic name; the `iot:LastWillTopic` key is its topic ARN.
    pub last_will_topic: Option<String>,
    /// The time of the request (`aws:CurrentTime`), a W3C ISO 8601 date or epoch seconds.
    /// Without it the time keys are missing: evaluation never reads the clock.
    pub current_time: Option<String>,
}

impl Context {
    /// Reads the context format of `shared/conformance/README.md`, plus `certificate.serialNumber`
    /// and `currentTime`.
    pub fn from_json(json: &serde_json::Value) -> Result<Context, String> {
        let object = json.as_object().ok_or("the context must be a JSON object")?;
        let text = |key: &str| -> Result<Option<String>, String> { optional_text(object.get(key), key) };
        let certificate = match object.get("certificate") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(certificate)) => Some(certificate),
            Some(_) => return Err("`certificate` must be an object".to_owned()),
        };
        let certificate_part = |key: &str| certificate.and_then(|certificate| certificate.get(key));
        let thing_attributes = match object.get("thingAttributes") {
            None | Some(serde_json::Value::Null) => BTreeMap::new(),
            Some(serde_json::Value::Object(map)) => map
                .iter()
                .map(|(key, value)| {
                    Ok((key.clone(), value.as_str().ok_or("`thingAttributes` values must be strings")?.to_owned()))
                })
                .collect::<Result<_, &str>>()?,
            Some(_) => return Err("`thingAttributes` must be an object".to_owned()),
        };
        let current_time = text("currentTime")?;
        if let Some(time) = current_time.as_deref().filter(|time| parse_date(time).is_none()) {
            return Err(format!(
                "`currentTime` must be a W3C ISO 8601 date such as `2024-06-15T12:00:00Z`, or epoch seconds, not \
                 `{time}`"
            ));
        }
        Ok(Context {
            region: text("region")?.unwrap_or_else(|| "us-east-1".to_owned()),
            account: text("account")?.unwrap_or_else(|| "123456789012".to_owned()),
            client_id: text("clientId")?,
            thing_name: text("thingName")?,
            thing_type_name: text("thingTypeName")?,
            thing_attributes,
            is_attached: match object.get("isAttached") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::Bool(flag)) => Some(*flag),
                Some(_) => return Err("`isAttached` must be a Boolean".to_owned()),
            },
            certificate_id: text("certificateId")?,
            serial_number: optional_text(certificate_part("serialNumber"), "certificate.serialNumber")?,
            subject: attributes(certificate_part("subject"), "certificate.subject")?,
            issuer: attributes(certificate_part("issuer"), "certificate.issuer")?,
            source_ip: text("sourceIp")?,
            source_vpce: text("sourceVpce")?,
            connect_attributes: match object.get("connectAttributes") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(value) => strings(value, "connectAttributes")?,
            },
            last_will_topic: text("lastWillTopic")?,
            current_time,
        })
    }

    /// The connection as requests for `action` see it. Greengrass V2 data-plane actions see no
    /// thing: the Greengrass developer guide says thing policy variables
    /// (`iot:Connection.Thing.*`) are not supported for them.
    pub fn for_action(&self, action: &str) -> Cow<'_, Context> {
        let greengrass = action.get(..11).is_some_and(|prefix| prefix.eq_ignore_ascii_case("greengrass:"));
        if !greengrass || (self.thing_name.is_none() && self.is_attached.is_none()) {
            return Cow::Borrowed(self);
        }
        Cow::Owned(Context {
            thing_name: None,
            thing_type_name: None,
            thing_attributes: BTreeMap::new(),
            is_attached: None,
            ..self.clone()
        })
    }

    /// The values of a policy variable or condition key (case-insensitive), or `None` when it
    /// has none for this connection. Most keys have one value; `iot:ConnectAttributes`,
    /// `iot:Certificate.AvailableKeys` and certificate `.List` keys have several.
    pub fn values(&self, key: &str) -> Option<Vec<String>> {
        let lower = key.to_ascii_lowercase();
        let one = |value: &Option<String>| value.clone().map(|value| vec![value]);
        match lower.as_str() {
            "iot:clientid" => one(&self.client_id),
            "iot:connection.thing.thingname" => one(&self.thing_name),
            "iot:connection.thing.thingtypename" => self.thing_name.as_ref().and(one(&self.thing_type_name)),
            "iot:connection.thing.isattached" => self.is_attached.map(|flag| vec![flag.to_string()]),
            "iot:certificateid" => one(&self.certificate_id),
            "iot:certificate.serialnumber" => one(&self.serial_number),
            "iot:certificate.availablekeys" => Some(self.available_keys()).filter(|keys| !keys.is_empty()),
            "aws:sourceip" => one(&self.source_ip),
            "aws:sourcevpce" => one(&self.source_vpce),
            "aws:currenttime" => one(&self.current_time),
            "aws:epochtime" => {
                let instant = parse_date(self.current_time.as_deref()?)?;
                Some(vec![instant.seconds.to_string()])
            }
            "iot:connectattributes" => Some(self.connect_attributes.clone()),
            "iot:lastwilltopic" => self
                .last_will_topic
                .as_ref()
                .map(|topic| vec![format!("arn:aws:iot:{}:{}:topic/{topic}", self.region, self.account)]),
            _ => {
                if let Some(name) =
                    lower.strip_prefix("iot:connection.thing.attributes[").and_then(|rest| rest.strip_suffix(']'))
                {
                    self.thing_name.as_ref()?;
                    // Attribute names keep their case; find the one written in the key.
                    let original = key.get(key.len() - name.len() - 1..key.len() - 1)?;
                    return self.thing_attributes.get(original).map(|value| vec![value.clone()]);
                }
                self.certificate_values(key)
            }
        }
    }

    /// Whether `name` is a multi-valued key, which has no single value to substitute for
    /// `${name}`: `iot:ConnectAttributes`, `iot:Certificate.AvailableKeys` and `.List` keys.
    pub fn is_multi_valued(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        lower == "iot:connectattributes"
            || lower == "iot:certificate.availablekeys"
            || (lower.starts_with("iot:certificate.") && lower.ends_with(".list"))
    }

    /// The value a `${name}` policy variable stands for: present, and from a single-valued key.
    pub fn variable(&self, name: &str) -> Option<String> {
        if Context::is_multi_valued(name) {
            return None;
        }
        match self.values(name)?.as_slice() {
            [value] => Some(value.clone()),
            _ => None,
        }
    }

    /// `iot:Certificate.Subject.<Attr>[.N|.List]` and the issuer's: the first value, value
    /// `N` counted from zero (the documentation's own example makes `.1` the second), or all
    /// of them; only the first five values of an attribute are kept. Attribute names compare
    /// case-insensitively.
    fn certificate_values(&self, key: &str) -> Option<Vec<String>> {
        let rest = strip_prefix_ignore_case(key, "iot:Certificate.")?;
        let (side, rest) = rest.split_once('.')?;
        let attributes = if side.eq_ignore_ascii_case("Subject") {
            &self.subject
        } else if side.eq_ignore_ascii_case("Issuer") {
            &self.issuer
        } else {
            return None;
        };
        // Alternative names carry their type: `AlternativeName.DNSName`, as the context
        // file names them too.
        let (name, suffix) = match rest.split_once('.') {
            Some((alternative, tail)) if alternative.eq_ignore_ascii_case("AlternativeName") => {
                match tail.split_once('.') {
                    Some((kind, suffix)) => (rest.get(..alternative.len() + 1 + kind.len())?, Some(suffix)),
                    None => (rest, None),
                }
            }
            Some((name, suffix)) => (name, Some(suffix)),
            None => (rest, None),
        };
        let values: Vec<String> = attribute(attributes, name)?.iter().take(5).cloned().collect();
        match suffix {
            None => values.first().map(|value| vec![value.clone()]),
            Some(suffix) if suffix.eq_ignore_ascii_case("List") => Some(values),
            Some(index) => values.get(index.parse::<usize>().ok()?).map(|value| vec![value.clone()]),
        }
    }

    /// `iot:Certificate.AvailableKeys`: the full names of the certificate variables that have
    /// a value, attribute names spelled as AWS documents them.
    fn available_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if self.serial_number.is_some() {
            keys.push("iot:Certificate.SerialNumber".to_owned());
        }
        for (side, attributes) in [("Subject", &self.subject), ("Issuer", &self.issuer)] {
            for (name, values) in attributes {
                if !values.is_empty() {
                    keys.push(format!("iot:Certificate.{side}.{}", documented_spelling(name)));
                }
            }
        }
        keys
    }
}

/// An attribute's values, its name compared case-insensitively.
fn attribute<'a>(attributes: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a Vec<String>> {
    attributes
        .get(name)
        .or_else(|| attributes.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)).map(|(_, values)| values))
}

/// A certificate attribute name as AWS documents it (`commonname` is `CommonName`), or as
/// given when AWS documents no such attribute.
fn documented_spelling(name: &str) -> Cow<'_, str> {
    let alternative = strip_prefix_ignore_case(name, "AlternativeName.")
        .and_then(|kind| ALTERNATIVE_NAME_TYPES.iter().find(|known| known.eq_ignore_ascii_case(kind)));
    if let Some(known) = alternative {
        return Cow::Owned(format!("AlternativeName.{known}"));
    }
    match CERTIFICATE_ATTRIBUTES.iter().find(|known| known.eq_ignore_ascii_case(name)) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Borrowed(name),
    }
}

pub(crate) fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..)).flatten()
}

fn optional_text(value: Option<&serde_json::Value>, key: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn strings(value: &serde_json::Value, what: &str) -> Result<Vec<String>, String> {
    match value {
        serde_json::Value::String(text) => Ok(vec![text.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(format!("`{what}` holds a non-string")))
            .collect(),
        _ => Err(format!("`{what}` must be a string or a list of strings")),
    }
}

fn attributes(value: Option<&serde_json::Value>, what: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    let object = value.as_object().ok_or(format!("`{what}` must be an object"))?;
    object.iter().map(|(key, value)| Ok((key.clone(), strings(value, what)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_variables_pick_values_by_index_list_and_alternative_name() {
        let mut context = Context::default();
        let names = ["a", "b", "c", "d", "e", "f"].map(str::to_owned).to_vec();
        context.subject.insert("CommonName".to_owned(), names);
        context
            .subject
            .insert("AlternativeName.DNSName".to_owned(), vec!["x.example".to_owned(), "y.example".to_owned()]);
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName").as_deref(), Some("a"));
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName.1").as_deref(), Some("b"));
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName.5"), None, "only five values are kept");
        assert_eq!(context.values("iot:Certificate.Subject.CommonName.List").map(|values| values.len()), Some(5));
        assert_eq!(context.variable("iot:Certificate.Subject.CommonName.List"), None, "multi-valued");
        assert_eq!(context.variable("iot:Certificate.Subject.AlternativeName.DNSName").as_deref(), Some("x.example"));
        assert_eq!(context.variable("iot:Certificate.Subject.AlternativeName.DNSName.1").as_deref(), Some("y.example"));
        assert_eq!(context.variable("iot:Certificate.Issuer.CommonName"), None);
        assert_eq!(context.variable("IOT:certificate.SUBJECT.commonname").as_deref(), Some("a"));
        assert_eq!(
            context.variable("iot:Certificate.Subject.alternativename.dnsname").as_deref(),
            Some("x.example"),
            "attribute names compare case-insensitively"
        );
    }

    #[test]
    fn available_keys_name_every_certificate_variable_with_a_value() {
        let context = Context::from_json(&serde_json::json!({"certificate": {"serialNumber": "0a",
            "subject": {"commonname": "d", "Title": [], "AlternativeName.dnsname": "x"},
            "issuer": {"Organization": "CA"}}}))
        .unwrap_or_default();
        assert_eq!(
            context.values("iot:Certificate.AvailableKeys").unwrap_or_default(),
            [
                "iot:Certificate.SerialNumber",
                "iot:Certificate.Subject.AlternativeName.DNSName",
                "iot:Certificate.Subject.CommonName",
                "iot:Certificate.Issuer.Organization"
            ]
        );
        assert_eq!(context.variable("iot:certificate.serialnumber").as_deref(), Some("0a"));
        assert_eq!(Context::default().values("iot:Certificate.AvailableKeys"), None);
    }

    #[test]
    fn greengrass_actions_see_no_thing() {
        let mut context =
            Context { thing_name: Some("core".to_owned()), is_attached: Some(true), ..Context::default() };
        context.thing_attributes.insert("a".to_owned(), "b".to_owned());
        let greengrass = context.for_action("Greengrass:GetConnectivityInfo");
        assert_eq!(greengrass.values("iot:Connection.Thing.ThingName"), None);
        assert_eq!(greengrass.values("iot:Connection.Thing.IsAttached"), None);
        assert_eq!(greengrass.values("iot:Connection.Thing.Attributes[a]"), None);
        assert!(matches!(context.for_action("iot:Connect"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_time_keys_come_from_current_time() {
        let context =
            Context::from_json(&serde_json::json!({"currentTime": "2024-06-15T14:00:00+02:00"})).unwrap_or_default();
        assert_eq!(context.values("aws:EpochTime"), Some(vec!["1718452800".to_owned()]));
        assert_eq!(context.values("AWS:currenttime"), Some(vec!["2024-06-15T14:00:00+02:00".to_owned()]));
        assert!(Context::from_json(&serde_json::json!({"currentTime": "yesterday"})).is_err());
    }
}
