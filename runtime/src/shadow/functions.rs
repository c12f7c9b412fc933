//! `get_thing_shadow()` in the rules of `iotrules serve`: the endpoint's own shadows, read from
//! the store and shaped as a GET answers them, so a rule sees what AWS's GetThingShadow returns.
//!
//! Where AWS's guide is silent (a shadow that does not exist, a name AWS would refuse), the
//! call fails as GetThingShadow fails (404 or 400 with AWS's message), and the message is not
//! evaluated, as a failed call of another service fails the rule on AWS.

use std::sync::Arc;

use iotrules_compiler::eval::value::Value;
use iotrules_compiler::eval::{Services, json};

use super::client::now;
use super::service::{current_document, not_found_message};
use super::store::Store;
use super::topics::ShadowId;

/// The shadows a rule's `get_thing_shadow()` reads.
pub(crate) struct LocalShadows {
    store: Arc<Store>,
}

impl std::fmt::Debug for LocalShadows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalShadows").finish_non_exhaustive()
    }
}

impl LocalShadows {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        LocalShadows { store }
    }

    /// `get_thing_shadow(thingName, [shadowName,] roleArn)`. The role is not checked: the
    /// endpoint has no IAM.
    fn get_thing_shadow(&self, args: &[Value]) -> Result<Value, String> {
        let (thing, name) = match args {
            [thing, _role] => (thing, None),
            [thing, name, _role] => (thing, Some(name)),
            _ => return Err("get_thing_shadow takes a thing name, an optional shadow name and a role ARN".to_owned()),
        };
        let text = |value: &Value, what: &str| match value {
            Value::String(text) => Ok(text.clone()),
            _ => Err(format!("the {what} is not a string")),
        };
        let thing = text(thing, "thing name")?;
        let name = name.map(|name| text(name, "shadow name")).transpose()?;
        let id = ShadowId::checked(&thing, name.as_deref())
            .ok_or_else(|| "400 a thing or shadow name AWS does not accept (a-zA-Z0-9:_-)".to_owned())?;
        let stored = self.store.get(&id)?;
        let document = current_document(&stored, now()).ok_or_else(|| format!("404 {}", not_found_message(&id)))?;
        let bytes = serde_json::to_vec(&document).map_err(|error| error.to_string())?;
        json::parse(&bytes).ok_or_else(|| "the stored shadow is not a JSON document".to_owned())
    }
}

impl Services for LocalShadows {
    fn call(&self, function: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (function == "get_thing_shadow").then(|| self.get_thing_shadow(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::service::{Limits, handle};
    use crate::shadow::topics::Operation;

    fn text(value: &str) -> Value {
        Value::String(value.to_owned())
    }

    #[test]
    fn rules_read_the_shadow_a_get_would_answer() {
        let dir = std::env::temp_dir().join(format!("iotrules-shadow-functions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir.join("shadows.redb").to_string_lossy()).unwrap());
        let update = |id: &ShadowId, document: &str| {
            let limits = Limits::default();
            let outcome = store
                .apply(id, |current| {
                    handle(id, Operation::Update, document.as_bytes(), current, 1_700_000_000, &limits)
                })
                .unwrap();
            assert!(outcome.store.is_some());
        };
        let classic = ShadowId::checked("boiler-1", None).unwrap();
        update(&classic, r#"{"state": {"desired": {"t": 22}, "reported": {"t": 19}}}"#);
        let named = ShadowId::checked("boiler-1", Some("config")).unwrap();
        update(&named, r#"{"state": {"reported": {"mode": "eco"}}}"#);

        let shadows = LocalShadows::new(Arc::clone(&store));
        let role = text("arn:aws:iam::123456789012:role/read");
        let read = |args: &[Value]| shadows.call("get_thing_shadow", args).unwrap();
        let got = read(&[text("boiler-1"), role.clone()]).unwrap();
        let json = |value: &Value| {
            let mut out = String::new();
            assert!(iotrules_compiler::eval::value::write_json(&mut out, value, true));
            out
        };
        let shown = json(&got);
        for part in [r#""reported":{"t":19}"#, r#""delta":{"t":22}"#, r#""version":1"#, r#""metadata""#] {
            assert!(shown.contains(part), "{part} in {shown}");
        }
        let got = read(&[text("boiler-1"), text("config"), role.clone()]).unwrap();
        assert!(json(&got).contains(r#""mode":"eco""#));

        // What GetThingShadow refuses, the rule's call fails with.
        assert_eq!(read(&[text("boiler-2"), role.clone()]), Err("404 No shadow exists with name: boiler-2".to_owned()));
        assert_eq!(
            read(&[text("boiler-1"), text("nothing"), role.clone()]),
            Err("404 No shadow exists with name: nothing".to_owned())
        );
        assert!(read(&[text("boiler 1"), role.clone()]).unwrap_err().starts_with("400 "));
        assert_eq!(read(&[Value::Int(7), role.clone()]), Err("the thing name is not a string".to_owned()));
        // Other services are not served here.
        assert!(shadows.call("get_dynamodb", &[]).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
