//! Deterministic sensor telemetry: about 200 bytes of JSON per message, published on
//! `sensors/<device>/telemetry`, the traffic most rules in a fleet filter and reshape.

use crate::rules::SplitMix64;

/// One message and whether `temperature > 50 AND humidity < 80` holds for it.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub device: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub hot: bool,
}

/// `count` messages, the same for the same `count`; even-numbered ones are hot and humid
/// below 80, odd-numbered ones fail one side of the condition or the other, so half of them
/// pass a filter on both.
pub fn telemetry(count: usize) -> Vec<Telemetry> {
    (0..count).map(message).collect()
}

const FIRMWARE: &[&str] = &["2.4.1", "2.4.1-rc3", "2.5.0", "3.0.0-beta2", "1.9.12"];
const STATUSES: &[&str] = &["ok", "degraded", "charging", "ok", "ok"];

fn message(index: usize) -> Telemetry {
    let mut rng = SplitMix64(0x7E1E_0000 + index as u64);
    let hot = index.is_multiple_of(2);
    // Every reading has a nonzero tenth, so it stays a decimal through every JSON round trip.
    let mut reading = |low: usize, high: usize| format!("{}.{}", low + rng.below(high - low), 1 + rng.below(9));
    let (temperature, humidity) = match (hot, index % 4) {
        (true, _) => (reading(51, 90), reading(20, 80)),
        (false, 1) => (reading(5, 50), reading(20, 95)),
        (false, _) => (reading(51, 90), reading(80, 99)),
    };
    let device = format!("{}-{:04}", rng.pick(&["th", "dev", "env"]), rng.below(10_000));
    let payload = format!(
        concat!(
            r#"{{"deviceId":"{device}","ts":{ts},"temperature":{temperature},"humidity":{humidity},"#,
            r#""battery":{battery},"rssi":-{rssi},"firmware":"{firmware}","status":"{status}","#,
            r#""location":{{"site":"plant-{site}","lat":47.{lat},"lon":-122.{lon}}},"seq":{seq}}}"#
        ),
        device = device,
        ts = 1_767_225_600_000 + index as u64 * 1_000 + rng.below(1_000) as u64,
        temperature = temperature,
        humidity = humidity,
        battery = 5 + rng.below(95),
        rssi = 40 + rng.below(60),
        firmware = rng.pick(FIRMWARE),
        status = rng.pick(STATUSES),
        site = 1 + rng.below(9),
        lat = 1000 + rng.below(9000),
        lon = 1000 + rng.below(9000),
        seq = index,
    );
    Telemetry { topic: format!("sensors/{device}/telemetry"), device, payload: payload.into_bytes(), hot }
}

#[cfg(test)]
mod tests {
    use super::telemetry;

    #[test]
    fn payloads_are_small_json_and_half_are_hot() {
        let messages = telemetry(64);
        for message in &messages {
            let size = message.payload.len();
            assert!((170..=240).contains(&size), "{size} bytes: {}", String::from_utf8_lossy(&message.payload));
            let value: serde_json::Value = serde_json::from_slice(&message.payload).unwrap_or_default();
            let (temperature, humidity) = (value["temperature"].as_f64(), value["humidity"].as_f64());
            let hot = matches!((temperature, humidity), (Some(t), Some(h)) if t > 50.0 && h < 80.0);
            assert_eq!(hot, message.hot, "{value}");
            assert!(message.topic.starts_with("sensors/") && message.topic.ends_with("/telemetry"));
        }
        assert_eq!(messages.iter().filter(|message| message.hot).count(), 32);
        assert_eq!(telemetry(8).as_slice().len(), 8);
        assert_eq!(telemetry(8)[3].payload, messages[3].payload);
    }
}
