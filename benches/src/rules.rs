//! A deterministic generator of realistic AWS IoT SQL rules (version 2016-03-23).
//!
//! The shapes come from the AWS IoT SQL reference and from rules seen in real deployments:
//! pass-through and enrichment, shadow projections, unit conversions, string and hash
//! functions, casts, CASE, literals, nested queries, SELECT VALUE, SET variables and WHERE
//! filters over topic segments and payload fields. Every rule is valid, and every rule differs
//! from the others because its topic filter carries its index.

/// `count` distinct, valid rules; the same `count` always gives the same rules, and a shorter
/// list is a prefix of a longer one.
pub fn realistic_rules(count: usize) -> Vec<String> {
    (0..count).map(rule).collect()
}

/// Payload metrics and the short alias a projection gives each.
const METRICS: &[(&str, &str)] = &[
    ("temperature", "temp"),
    ("humidity", "rh"),
    ("pressure", "hpa"),
    ("battery", "batt"),
    ("rssi", "signal"),
    ("voltage", "volts"),
    ("current", "amps"),
    ("rpm", "speed"),
    ("co2", "co2_ppm"),
    ("vibration", "vib"),
];

const STATUSES: &[&str] = &["ok", "degraded", "fault", "offline", "maintenance", "booting"];

/// Output keys for `topic(n)`, by segment.
const SEGMENT_NAMES: &[&str] = &["tenant", "site", "zone", "unit", "channel", "kind", "stage", "leaf"];

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/iot-rules-read";

fn rule(index: usize) -> String {
    let mut rng = SplitMix64(index as u64);
    let filter = topic_filter(&mut rng, index);
    let mut rule = Rule::default();

    // SET comes first so that its items keep their output keys.
    let with_set = rng.chance(20);
    if with_set {
        for _ in 0..1 + rng.below(2) {
            set_variable(&mut rng, &mut rule, &filter);
        }
    }

    let shape = rng.below(10);
    // SELECT VALUE has no room for the items that output SET variables.
    let select = if shape == 9 && !with_set {
        format!("VALUE {}", value_expression(&mut rng, index, &filter))
    } else {
        let star = shape < 3;
        let wanted = if star { rng.below(4) } else { 1 + rng.below(6) };
        for _ in 0..wanted {
            let (expr, alias) = select_item(&mut rng, index, &filter);
            rule.item(expr, alias);
        }
        let mut select = if star { vec!["*".to_owned()] } else { Vec::new() };
        select.append(&mut rule.items);
        select.join(", ")
    };

    if rng.chance(70) {
        let nested = !rule.conditions.is_empty();
        rule.conditions.push(where_condition(&mut rng, &filter, nested));
    }

    let mut sql = String::new();
    if !rule.set.is_empty() {
        sql.push_str(&format!("SET {} ", rule.set.join(", ")));
    }
    sql.push_str(&format!("SELECT {select} FROM '{}'", filter.text));
    if !rule.conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", rule.conditions.join(" AND ")));
    }
    sql
}

/// The parts of one statement, gathered before it is written out.
#[derive(Default)]
struct Rule {
    set: Vec<String>,
    variables: Vec<&'static str>,
    items: Vec<String>,
    /// Output keys already written, so that no two items write the same one.
    keys: Vec<String>,
    conditions: Vec<String>,
}

impl Rule {
    /// Adds `expr AS alias`, or a bare attribute when `alias` is `None`; skipped when its key
    /// is already taken.
    fn item(&mut self, expr: String, alias: Option<String>) {
        let key = alias.clone().unwrap_or_else(|| expr.clone());
        if self.keys.contains(&key) {
            return;
        }
        self.keys.push(key);
        self.items.push(match alias {
            Some(alias) => format!("{expr} AS {alias}"),
            None => expr,
        });
    }
}

struct Filter {
    text: String,
    /// How many topic levels a matching topic has at least, for `topic(n)`.
    levels: usize,
    /// The level naming the device or thing, usually a `+`.
    device: usize,
    /// Whether it ends in `#`, so topics may go deeper than `levels`.
    open: bool,
}

fn topic_filter(rng: &mut SplitMix64, index: usize) -> Filter {
    let (text, levels, device) = match rng.below(10) {
        0 => (format!("fleet{index}/+/telemetry"), 3, 2),
        1 => (format!("$aws/things/thing{index}/shadow/update/accepted"), 6, 3),
        2 => (format!("sensors/site{}/gw{index}/#", rng.below(40)), 4, 3),
        3 => (format!("factory/line{}/machine{index}/+/status", 1 + rng.below(12)), 5, 4),
        4 => (format!("acme/windfarm/{index}/turbine/+/+"), 6, 5),
        // The leading slash makes an empty first level.
        5 => (format!("/company{index}/+/events"), 4, 3),
        6 => (format!("dt/app{index}/+/+/telemetry"), 5, 4),
        7 => (format!("cmd/fleet{index}/+/response/#"), 5, 3),
        8 => (format!("$aws/things/+/shadow/name/cfg{index}/update/documents"), 8, 3),
        _ => (format!("devices/{index}/+"), 3, 3),
    };
    let open = text.ends_with('#');
    Filter { text, levels, device, open }
}

fn select_item(rng: &mut SplitMix64, index: usize, filter: &Filter) -> (String, Option<String>) {
    let (levels, device) = (filter.levels, filter.device);
    let &(metric, short) = rng.pick(METRICS);
    let some = |alias: &str| Some(alias.to_owned());
    match rng.below(15) {
        0 => (format!("state.reported.{metric}"), some(short)),
        1 => (metric.to_owned(), None),
        2 => {
            let segment = 1 + rng.below(levels);
            if segment == device || rng.chance(50) {
                (format!("topic({device})"), some("device"))
            } else {
                (format!("topic({segment})"), some(SEGMENT_NAMES[segment - 1]))
            }
        }
        3 => match rng.below(4) {
            0 => ("(temperature - 32) * 5 / 9".to_owned(), some("celsius")),
            1 => ("state.reported.tempF * 9 / 5 + 32".to_owned(), some("fahrenheit")),
            2 => (format!("{metric} * {}", 2 + rng.below(998)), Some(format!("{metric}_scaled"))),
            _ => (format!("round({metric} * 100) / 100"), Some(format!("{metric}_rounded"))),
        },
        4 => match rng.below(8) {
            0 => ("upper(deviceId)".to_owned(), some("device_id")),
            1 => (format!("concat(topic({device}), '-', serial)"), some("key")),
            2 => (format!("substring(firmware, 0, {})", 1 + rng.below(6)), some("fw_major")),
            3 => ("md5(deviceId)".to_owned(), some("device_hash")),
            4 => ("lower(trim(model))".to_owned(), some("model")),
            5 => ("replace(location, ' ', '_')".to_owned(), some("location_slug")),
            6 => (format!("sha256(concat(deviceId, 'salt{}'))", index % 97), some("anon_id")),
            _ => ("regexp_replace(mac, ':', '')".to_owned(), some("mac")),
        },
        5 => match rng.below(4) {
            0 => ("cast(battery AS Int)".to_owned(), some("battery_pct")),
            1 => ("cast(rssi AS Decimal)".to_owned(), some("rssi_dbm")),
            2 => ("cast(online AS Boolean)".to_owned(), some("online")),
            _ => (format!("cast({metric} AS Double)"), Some(format!("{metric}_double"))),
        },
        6 => {
            if rng.chance(50) {
                let first = rng.pick(STATUSES);
                let second = rng.pick(STATUSES);
                let code = 1 + rng.below(9);
                if first == second {
                    (format!("CASE status WHEN '{first}' THEN {code} ELSE 0 END"), some("code"))
                } else {
                    let other = code + 1;
                    (
                        format!("CASE status WHEN '{first}' THEN {code} WHEN '{second}' THEN {other} ELSE 0 END"),
                        some("code"),
                    )
                }
            } else {
                (
                    "CASE state.reported.mode WHEN 'eco' THEN 'low' WHEN 'boost' THEN 'high' ELSE 'normal' END"
                        .to_owned(),
                    some("power_level"),
                )
            }
        }
        7 => {
            if rng.chance(50) {
                ("{'lat': gps.lat, 'lon': gps.lon, 'alt': gps.alt}".to_owned(), some("location"))
            } else {
                ("{'id': deviceId, 'fw': firmware, 'seen': timestamp()}".to_owned(), some("meta"))
            }
        }
        8 => {
            let &(second, _) = rng.pick(METRICS);
            if second == metric {
                (format!("[topic(1), topic({levels})]"), some("route"))
            } else {
                (format!("[{metric}, {second}]"), some("vector"))
            }
        }
        9 => match rng.below(3) {
            0 => (format!("(SELECT VALUE v FROM readings WHERE n = '{short}')"), Some(format!("{short}_series"))),
            1 => (format!("get((SELECT v FROM readings WHERE n = '{short}'), 0).v"), Some(format!("{short}_first"))),
            _ => (format!("(SELECT n, v FROM readings WHERE v > {})", rng.below(500)), some("peaks")),
        },
        10 => match rng.below(5) {
            0 => ("timestamp()".to_owned(), some("ts")),
            1 => ("clientid()".to_owned(), some("client_id")),
            2 => ("principal()".to_owned(), some("principal")),
            3 => ("traceid()".to_owned(), some("trace_id")),
            _ => ("newuuid()".to_owned(), some("message_id")),
        },
        11 => match rng.below(4) {
            0 => ("parse_time('yyyy-MM-dd HH:mm:ss', timestamp())".to_owned(), some("received_at")),
            1 => ("parse_time('yyyy-MM-dd', timestamp(), 'Europe/Berlin')".to_owned(), some("day")),
            2 => ("time_to_epoch(reportedAt, 'yyyy-MM-dd HH:mm:ss')".to_owned(), some("reported_ms")),
            _ => ("floor(timestamp() / 1E3)".to_owned(), some("epoch_s")),
        },
        12 => match rng.below(5) {
            0 => ("sqrt(power(accel.x, 2) + power(accel.y, 2) + power(accel.z, 2))".to_owned(), some("magnitude")),
            1 => (format!("abs({metric} - baseline.{metric})"), Some(format!("{metric}_drift"))),
            2 => ("trunc(voltage * current, 2)".to_owned(), some("watts")),
            3 => (format!("bitand(flags, {})", 1 + rng.below(255)), some("fault_bits")),
            _ => (format!("mod(seq, {})", 2 + rng.below(30)), some("shard")),
        },
        13 => {
            if rng.chance(50) {
                ("encode(*, 'base64')".to_owned(), some("raw"))
            } else {
                ("decode(body, 'base64').temperature".to_owned(), some("decoded_temp"))
            }
        }
        _ => match rng.below(3) {
            0 => (format!("get_thing_shadow(topic({device}), '{ROLE_ARN}')"), some("shadow")),
            1 => (
                format!(
                    "aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:enrich-{}', {{'device': topic({device}), 'reading': {metric}}})",
                    index % 13
                ),
                some("enriched"),
            ),
            _ => (
                format!("get_dynamodb('devices-{}', 'deviceId', topic({device}), '{ROLE_ARN}')", index % 7),
                some("registry"),
            ),
        },
    }
}

/// A `SET @name = ...` assignment, an item that outputs the variable, and often a condition on it.
fn set_variable(rng: &mut SplitMix64, rule: &mut Rule, filter: &Filter) {
    let variant = rng.below(5);
    let name = ["celsius", "reported", "device", "shadow", "limit"][variant];
    if rule.variables.contains(&name) {
        return;
    }
    rule.variables.push(name);
    let condition = rng.chance(60);
    match variant {
        0 => {
            rule.set.push("@celsius = (temperature - 32) * 5 / 9".to_owned());
            rule.item("@celsius".to_owned(), Some("celsius".to_owned()));
            if condition {
                rule.conditions.push(format!("@celsius > {}", 20 + rng.below(40)));
            }
        }
        1 => {
            rule.set.push("@reported = state.reported".to_owned());
            let &(metric, short) = rng.pick(METRICS);
            rule.item(format!("@reported.{metric}"), Some(short.to_owned()));
            if condition {
                rule.conditions.push(format!("@reported.battery < {}", 5 + rng.below(30)));
            }
        }
        2 => {
            rule.set.push(format!("@device = topic({})", filter.device));
            rule.item("@device".to_owned(), Some("device".to_owned()));
            if condition {
                rule.conditions.push(format!("startswith(@device, '{}')", rng.pick(&["th", "dev", "gw", "sn"])));
            }
        }
        3 => {
            rule.set.push(format!("@shadow = get_thing_shadow(topic({}), '{ROLE_ARN}')", filter.device));
            rule.item("@shadow.state.desired.mode".to_owned(), Some("desired_mode".to_owned()));
            if condition {
                rule.conditions.push("@shadow.state.reported.mode <> @shadow.state.desired.mode".to_owned());
            }
        }
        _ => {
            // A later assignment may read an earlier one.
            rule.set.push(format!("@limit = {}, @over = temperature > @limit", 40 + rng.below(60)));
            rule.item("@limit".to_owned(), Some("limit".to_owned()));
            rule.conditions.push("@over".to_owned());
        }
    }
}

fn value_expression(rng: &mut SplitMix64, index: usize, filter: &Filter) -> String {
    let &(metric, short) = rng.pick(METRICS);
    match rng.below(6) {
        0 => "state.reported".to_owned(),
        1 => format!("{{'device': topic({}), '{short}': {metric}, 'ts': timestamp()}}", filter.device),
        2 => format!("(SELECT VALUE v FROM readings WHERE n = '{short}')"),
        3 => "encode(*, 'base64')".to_owned(),
        4 => format!("transform('enrichArray', {{'deviceId': deviceId, 'batch': {index}}}, readings)"),
        _ => format!("concat(topic({}), ':', cast({metric} AS String))", filter.device),
    }
}

/// One to three predicates joined with AND, OR and NOT; `nested` when it will be ANDed with
/// other conditions, so a top-level OR needs parentheses.
fn where_condition(rng: &mut SplitMix64, filter: &Filter, nested: bool) -> String {
    let shape = rng.below(6);
    let mut p = |negated| predicate(rng, filter, negated);
    match shape {
        0 | 1 => p(false),
        2 => format!("{} AND {}", p(false), p(false)),
        3 => format!("({} OR {}) AND {}", p(false), p(false), p(false)),
        4 if nested => format!("({} OR {})", p(false), p(false)),
        4 => format!("{} OR {}", p(false), p(false)),
        _ => format!("NOT ({}) AND {}", p(true), p(false)),
    }
}

/// A comparison or test; `negated` when it goes under NOT, so it is not negative already.
fn predicate(rng: &mut SplitMix64, filter: &Filter, negated: bool) -> String {
    let &(metric, _) = rng.pick(METRICS);
    match rng.below(14) {
        0 => format!("{metric} > {}", rng.below(120)),
        1 => format!("{metric} <= {}.{}", rng.below(100), rng.below(10)),
        2 => format!("state.reported.{metric} >= {}", rng.below(1000)),
        3 => format!("status = '{}'", rng.pick(STATUSES)),
        4 if negated => format!("{metric} < {}", rng.below(50)),
        4 => "status <> 'ok'".to_owned(),
        5 => format!("startswith(topic({}), '{}')", filter.device, rng.pick(&["th", "dev", "gw", "line", "sn"])),
        6 => format!(
            "regexp_matches(deviceId, '{}')",
            rng.pick(&["^dev-[0-9]+$", "^th[0-9]{4}$", "^[a-f0-9]{12}$", "(?i)^gw-[a-z]+-[0-9]+$"])
        ),
        7 => format!("isUndefined(state.reported.{metric})"),
        8 if negated => format!("isNull({metric})"),
        8 => format!("NOT isUndefined({metric})"),
        9 => "isNull(error)".to_owned(),
        10 if filter.open => "endswith(topic(), '/alerts')".to_owned(),
        10 => format!("topic({}) <> 'test'", filter.device),
        11 => format!("abs({metric} - baseline.{metric}) > {}.5", rng.below(10)),
        12 => format!("mod(seq, {}) = 0", 2 + rng.below(20)),
        _ => format!("state.reported.{metric} <> state.desired.{metric}"),
    }
}

/// splitmix64: tiny, and good enough to vary rules and payloads; seeded by an index so each
/// rule or payload depends on nothing else.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; `bound` is never 0 here.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use iotrules_compiler::{SqlVersion, check_sql};

    use super::realistic_rules;

    #[test]
    fn rules_are_distinct_and_valid() {
        let rules = realistic_rules(1000);
        let distinct: HashSet<&String> = rules.iter().collect();
        assert_eq!(distinct.len(), rules.len(), "generated rules repeat");
        for (index, rule) in rules.iter().enumerate() {
            let checked = check_sql(rule, SqlVersion::V2016_03_23);
            let found: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|found| {
                    format!("{} {} at {:?}: {}", found.severity.as_str(), found.code, found.span(), found.message)
                })
                .collect();
            assert!(!checked.has_errors(), "rule {index} is rejected:\n{rule}\n{}", found.join("\n"));
        }
    }

    #[test]
    fn rules_are_deterministic() {
        let long = realistic_rules(50);
        assert_eq!(realistic_rules(50), long);
        assert_eq!(realistic_rules(20), long[..20]);
    }
}
