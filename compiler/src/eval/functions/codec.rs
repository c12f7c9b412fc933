//! Encodings and hashes: `encode`, `decode`, `md2` to `sha512`.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::eval::json;
use crate::eval::value::Value;
use crate::version::SqlVersion;

/// Encodes with padding, as Java's `Base64.getEncoder()` does.
const ENCODER: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decodes like Java's `Base64.getDecoder()`: the standard alphabet only (no whitespace, no
/// URL-safe characters), padding optional but checked when present, and unused bits of the
/// last character ignored.
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(crate) fn call(name: &str, args: &[Value], version: SqlVersion) -> Option<Value> {
    let value = match name {
        "encode" => encode(args, version),
        "decode" => decode(args, version),
        "md2" => hash::<md2::Md2>(args, version),
        "md5" => hash::<md5::Md5>(args, version),
        "sha1" => hash::<sha1::Sha1>(args, version),
        "sha224" => hash::<sha2::Sha224>(args, version),
        "sha256" => hash::<sha2::Sha256>(args, version),
        "sha384" => hash::<sha2::Sha384>(args, version),
        "sha512" => hash::<sha2::Sha512>(args, version),
        _ => return None,
    };
    Some(value)
}

/// A hash of the argument's standard string conversion, as lowercase hex. A binary payload
/// has no string conversion, so `md5(*)` on one is Undefined.
fn hash<D: sha2::Digest>(args: &[Value], version: SqlVersion) -> Value {
    let Some(text) = args.first().and_then(|value| value.to_text_in(version)) else { return Value::Undefined };
    let digest = D::digest(text.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        let _ = write!(out, "{byte:02x}");
    }
    Value::String(out)
}

/// `encode(value, 'base64')`: the raw payload bytes for `encode(*, ...)`, otherwise the UTF-8
/// bytes of the value's standard string conversion. Any other scheme is Undefined.
fn encode(args: &[Value], version: SqlVersion) -> Value {
    let [value, scheme] = args else { return Value::Undefined };
    if !is_base64(scheme) {
        return Value::Undefined;
    }
    match value {
        Value::Binary(bytes) => Value::String(ENCODER.encode(bytes)),
        value => value.to_text_in(version).map_or(Value::Undefined, |text| Value::String(ENCODER.encode(text))),
    }
}

/// `decode(value, 'base64')`: the decoded document when the bytes are JSON, else the decoded
/// text; Null when the text is not base64 or the bytes are not UTF-8 (documented). Null and
/// Undefined arguments give Undefined, like every function without a documented exception.
///
/// The six-argument form decodes protobuf with a descriptor file that AWS reads from S3; an
/// offline engine has no such file, so that form is Undefined.
fn decode(args: &[Value], version: SqlVersion) -> Value {
    let [value, scheme] = args else { return Value::Undefined };
    if !is_base64(scheme) {
        return Value::Undefined;
    }
    let Some(text) = value.to_text_in(version) else { return Value::Undefined };
    let Ok(bytes) = DECODER.decode(text.as_bytes()) else { return Value::Null };
    if let Some(document) = json::parse(&bytes) {
        return document;
    }
    String::from_utf8(bytes).map_or(Value::Null, Value::String)
}

/// The scheme names are compared exactly: the documentation only ever writes `'base64'`.
fn is_base64(scheme: &Value) -> bool {
    matches!(scheme, Value::String(name) if name == "base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: SqlVersion = SqlVersion::V2016_03_23;

    fn run(name: &str, args: &[Value]) -> Value {
        call(name, args, V).unwrap_or_else(|| panic!("{name} is not a codec function"))
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn b64() -> Value {
        s("base64")
    }

    #[test]
    fn other_names_are_not_ours() {
        assert_eq!(call("upper", &[s("x")], V), None);
        assert_eq!(call("parse_time", &[s("x"), Value::Int(0)], V), None);
    }

    #[test]
    fn every_hash_of_hello() {
        let cases = [
            ("md2", "a9046c73e00331af68917d3804f70655"),
            ("md5", "5d41402abc4b2a76b9719d911017c592"),
            ("sha1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            ("sha224", "ea09ae9cc6768c50fcee903ed054556e5bfc8347907f12598aa24193"),
            ("sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            (
                "sha384",
                "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
            ),
            (
                "sha512",
                "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7\
                 2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
            ),
        ];
        for (name, digest) in cases {
            assert_eq!(run(name, &[s("hello")]), s(digest), "{name}");
        }
    }

    #[test]
    fn hashes_use_the_standard_string_conversion() {
        assert_eq!(run("md5", &[s("iot123")]), s("e37f81fb397e595c4aeb5645b8cbbbd1"));
        assert_eq!(run("md5", &[Value::Int(123)]), s("202cb962ac59075b964b07152d234b70"));
        assert_eq!(run("md5", &[Value::Bool(true)]), run("md5", &[s("true")]));
        assert_eq!(run("md5", &[Value::from_f64(1.5)]), run("md5", &[s("1.5")]));
        assert_eq!(run("md5", &[Value::Array(vec![s("a"), Value::Int(1)])]), run("md5", &[s(r#"["a",1]"#)]));
        assert_eq!(run("md5", &[s("")]), s("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(run("sha256", &[Value::Null]), Value::Undefined);
        assert_eq!(run("sha1", &[Value::Undefined]), Value::Undefined);
        assert_eq!(run("md2", &[Value::Binary(vec![1, 2])]), Value::Undefined);
    }

    #[test]
    fn encode_converts_to_a_string_first() {
        assert_eq!(run("encode", &[s("hello"), b64()]), s("aGVsbG8="));
        assert_eq!(run("encode", &[Value::Int(80), b64()]), s("ODA="));
        assert_eq!(run("encode", &[Value::Bool(false), b64()]), s("ZmFsc2U="));
        assert_eq!(run("encode", &[s(""), b64()]), s(""));
        assert_eq!(run("encode", &[s("€"), b64()]), s("4oKs"));
        let object = Value::Object([("a".to_owned(), Value::Int(1))].into_iter().collect());
        assert_eq!(run("encode", &[object, b64()]), s("eyJhIjoxfQ=="));
        assert_eq!(run("encode", &[Value::Null, b64()]), Value::Undefined);
        assert_eq!(run("encode", &[Value::Undefined, b64()]), Value::Undefined);
    }

    #[test]
    fn encode_takes_a_binary_payload_as_bytes() {
        assert_eq!(run("encode", &[Value::Binary(vec![0x00, 0x01, 0xfe, 0xff, 0x10]), b64()]), s("AAH+/xA="));
        assert_eq!(run("encode", &[Value::Binary(Vec::new()), b64()]), s(""));
    }

    #[test]
    fn only_the_base64_scheme_exists() {
        for scheme in [s("base32"), s("BASE64"), s("hex"), Value::Null, Value::Undefined, Value::Int(64)] {
            assert_eq!(run("encode", &[s("hello"), scheme.clone()]), Value::Undefined);
            assert_eq!(run("decode", &[s("aGVsbG8="), scheme]), Value::Undefined);
        }
    }

    #[test]
    fn decode_gives_json_documents_as_values() {
        let object = run("decode", &[s("eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="), b64()]);
        assert_eq!(object, Value::Object([("temperature".to_owned(), Value::Int(33))].into_iter().collect()));
        assert_eq!(run("decode", &[s("ODA="), b64()]), Value::Int(80));
        assert_eq!(run("decode", &[s("MS41"), b64()]), Value::from_f64(1.5));
        assert_eq!(run("decode", &[s("dHJ1ZQ=="), b64()]), Value::Bool(true));
        assert_eq!(run("decode", &[s("bnVsbA=="), b64()]), Value::Null);
        assert_eq!(run("decode", &[s("WzEsMl0="), b64()]), Value::Array(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(run("decode", &[s("ImhpIg=="), b64()]), s("hi"));
    }

    #[test]
    fn decode_gives_other_text_as_a_string() {
        assert_eq!(run("decode", &[s("aGVsbG8="), b64()]), s("hello"));
        assert_eq!(run("decode", &[s("aGVsbG8gd29ybGQ="), b64()]), s("hello world"));
        assert_eq!(run("decode", &[s(""), b64()]), s(""));
        assert_eq!(run("decode", &[s("4oKs"), b64()]), s("€"));
        // `{` alone is not a document: it comes back as text.
        assert_eq!(run("decode", &[s("ew=="), b64()]), s("{"));
    }

    #[test]
    fn padding_is_optional_but_checked() {
        assert_eq!(run("decode", &[s("aGVsbG8"), b64()]), s("hello"));
        assert_eq!(run("decode", &[s("aGVsbG8=="), b64()]), Value::Null);
        assert_eq!(run("decode", &[s("aGVsbG9="), b64()]), s("hello"));
    }

    #[test]
    fn undecodable_text_is_null() {
        for text in ["%%%", "aGVsbG8=\n", " aGVsbG8=", "aGVs bG8=", "a", "aGVsbG8-", "aGV_bG8=", "=aGVsbG8"] {
            assert_eq!(run("decode", &[s(text), b64()]), Value::Null, "{text:?}");
        }
        // Valid base64 of bytes that are not UTF-8.
        assert_eq!(run("decode", &[s("AAH+/xA="), b64()]), Value::Null);
        assert_eq!(run("decode", &[s("/w=="), b64()]), Value::Null);
    }

    #[test]
    fn decode_of_nothing_is_undefined() {
        assert_eq!(run("decode", &[Value::Null, b64()]), Value::Undefined);
        assert_eq!(run("decode", &[Value::Undefined, b64()]), Value::Undefined);
        assert_eq!(run("decode", &[Value::Binary(b"aGVsbG8=".to_vec()), b64()]), Value::Undefined);
    }

    #[test]
    fn decode_converts_non_strings_first() {
        // "1234" is valid base64 for three bytes that are not UTF-8.
        assert_eq!(run("decode", &[Value::Int(1234), b64()]), Value::Null);
        // "true" decodes to bytes that are not UTF-8 either.
        assert_eq!(run("decode", &[Value::Bool(true), b64()]), Value::Null);
    }

    #[test]
    fn protobuf_decoding_is_undefined() {
        let args = [s("CgNhYmM="), s("proto"), s("bucket"), s("key.desc"), s("file.proto"), s("Message")];
        assert_eq!(run("decode", &args), Value::Undefined);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        for payload in [&b"80"[..], b"hello world", br#"{"a":[1,2,{"b":null}]}"#] {
            let encoded = run("encode", &[Value::Binary(payload.to_vec()), b64()]);
            let decoded = run("decode", &[encoded, b64()]);
            let expected = json::parse(payload)
                .unwrap_or_else(|| Value::String(String::from_utf8(payload.to_vec()).unwrap_or_default()));
            assert_eq!(decoded, expected);
        }
    }
}
