//! MQTT 3.1.1 packets of a device and the MQTT 5 packets of its connection to the upstream
//! broker, each into the other. The gateway speaks MQTT 5 upstream for every device so each
//! publish can carry the device's identity to the rules as user properties, which MQTT 3.1.1
//! has no room for. Pure functions.
//!
//! Choices: a 3.1.1 session that is not clean lasts until the device comes back (session
//! expiry `u32::MAX`), as 3.1.1 defines; a 3.1.1 SUBACK has only "failure" for every MQTT 5
//! refusal; a CONNACK refusal becomes the nearest 3.1.1 code (not authorized, bad user name or
//! password, identifier rejected, unacceptable protocol version, or server unavailable).

use bytes::Bytes;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;

pub(super) fn qos_up(qos: rumqttc::mqttbytes::QoS) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::mqttbytes::QoS as Down;
    use rumqttc::v5::mqttbytes::QoS as Up;
    match qos {
        Down::AtMostOnce => Up::AtMostOnce,
        Down::AtLeastOnce => Up::AtLeastOnce,
        Down::ExactlyOnce => Up::ExactlyOnce,
    }
}

pub(super) fn qos_down(qos: rumqttc::v5::mqttbytes::QoS) -> rumqttc::mqttbytes::QoS {
    use rumqttc::mqttbytes::QoS as Down;
    use rumqttc::v5::mqttbytes::QoS as Up;
    match qos {
        Up::AtMostOnce => Down::AtMostOnce,
        Up::AtLeastOnce => Down::AtLeastOnce,
        Up::ExactlyOnce => Down::ExactlyOnce,
    }
}

/// The device's CONNECT as MQTT 5.
pub(super) fn connect(connect: v4::Connect) -> v5::Packet {
    let properties = v5::ConnectProperties {
        session_expiry_interval: (!connect.clean_session).then_some(u32::MAX),
        ..v5::ConnectProperties::new()
    };
    let will = connect.last_will.map(|will| v5::LastWill {
        topic: Bytes::from(will.topic),
        message: will.message,
        qos: qos_up(will.qos),
        retain: will.retain,
        properties: None,
    });
    let login = connect.login.map(|login| v5::Login { username: login.username, password: login.password });
    let upstream = v5::Connect {
        keep_alive: connect.keep_alive,
        client_id: connect.client_id,
        clean_start: connect.clean_session,
        properties: Some(properties),
    };
    v5::Packet::Connect(upstream, will, login)
}

/// The broker's CONNACK as MQTT 3.1.1.
pub(super) fn connack(connack: &v5::ConnAck) -> v4::ConnAck {
    use v4::ConnectReturnCode as Down;
    use v5::ConnectReturnCode as Up;
    let code = match connack.code {
        Up::Success => Down::Success,
        Up::NotAuthorized | Up::Banned => Down::NotAuthorized,
        Up::BadUserNamePassword | Up::BadAuthenticationMethod => Down::BadUserNamePassword,
        Up::BadClientId | Up::ClientIdentifierNotValid => Down::BadClientId,
        Up::RefusedProtocolVersion | Up::UnsupportedProtocolVersion => Down::RefusedProtocolVersion,
        _ => Down::ServiceUnavailable,
    };
    v4::ConnAck::new(code, connack.session_present)
}

/// A device's publish as MQTT 5, carrying `identity` as user properties.
pub(super) fn publish_up(publish: v4::Publish, identity: &[(String, String)]) -> v5::Publish {
    let properties = (!identity.is_empty())
        .then(|| v5::PublishProperties { user_properties: identity.to_vec(), ..v5::PublishProperties::default() });
    v5::Publish {
        dup: publish.dup,
        qos: qos_up(publish.qos),
        retain: publish.retain,
        topic: Bytes::from(publish.topic),
        pkid: publish.pkid,
        payload: publish.payload,
        properties,
    }
}

/// A delivery as MQTT 3.1.1 (its properties, the identity among them, left behind); `None`
/// for a topic that is not UTF-8.
pub(super) fn publish_down(publish: v5::Publish) -> Option<v4::Publish> {
    let topic = String::from_utf8(publish.topic.to_vec()).ok()?;
    Some(v4::Publish {
        dup: publish.dup,
        qos: qos_down(publish.qos),
        retain: publish.retain,
        topic,
        pkid: publish.pkid,
        payload: publish.payload,
    })
}

/// A device's SUBSCRIBE as MQTT 5: retain-as-published off, so RETAIN marks only retained
/// messages sent on subscribing, as over MQTT 3.1.1.
pub(super) fn subscribe(pkid: u16, filters: Vec<v4::SubscribeFilter>) -> v5::Subscribe {
    let filters = filters
        .into_iter()
        .map(|filter| v5::Filter {
            path: filter.path,
            qos: qos_up(filter.qos),
            nolocal: false,
            preserve_retain: false,
            retain_forward_rule: v5::RetainForwardRule::OnEverySubscribe,
        })
        .collect();
    v5::Subscribe { pkid, filters, properties: None }
}

/// A SUBACK code as MQTT 3.1.1.
pub(super) fn suback_code(code: v5::SubscribeReasonCode) -> v4::SubscribeReasonCode {
    match code {
        v5::SubscribeReasonCode::Success(qos) => v4::SubscribeReasonCode::Success(qos_down(qos)),
        _ => v4::SubscribeReasonCode::Failure,
    }
}

/// Any other packet of the device, as MQTT 5; `None` for one with no counterpart to forward
/// (a second CONNECT, a CONNACK or SUBACK from a device).
pub(super) fn other_up(packet: v4::Packet) -> Option<v5::Packet> {
    Some(match packet {
        v4::Packet::PubAck(ack) => v5::Packet::PubAck(v5::PubAck::new(ack.pkid, None)),
        v4::Packet::PubRec(rec) => v5::Packet::PubRec(v5::PubRec::new(rec.pkid, None)),
        v4::Packet::PubRel(rel) => v5::Packet::PubRel(v5::PubRel::new(rel.pkid, None)),
        v4::Packet::PubComp(comp) => v5::Packet::PubComp(v5::PubComp::new(comp.pkid, None)),
        v4::Packet::Unsubscribe(unsubscribe) => v5::Packet::Unsubscribe(v5::Unsubscribe {
            pkid: unsubscribe.pkid,
            filters: unsubscribe.topics,
            properties: None,
        }),
        v4::Packet::PingReq => v5::Packet::PingReq(v5::PingReq),
        v4::Packet::Disconnect => {
            v5::Packet::Disconnect(v5::Disconnect::new(v5::DisconnectReasonCode::NormalDisconnection))
        }
        _ => return None,
    })
}

/// Any other packet of the broker, as MQTT 3.1.1; `None` for one with no counterpart (an MQTT 5
/// DISCONNECT or AUTH, which end the device's connection).
pub(super) fn other_down(packet: v5::Packet) -> Option<v4::Packet> {
    Some(match packet {
        v5::Packet::PubAck(ack) => v4::Packet::PubAck(v4::PubAck::new(ack.pkid)),
        v5::Packet::PubRec(rec) => v4::Packet::PubRec(v4::PubRec::new(rec.pkid)),
        v5::Packet::PubRel(rel) => v4::Packet::PubRel(v4::PubRel::new(rel.pkid)),
        v5::Packet::PubComp(comp) => v4::Packet::PubComp(v4::PubComp::new(comp.pkid)),
        v5::Packet::UnsubAck(ack) => v4::Packet::UnsubAck(v4::UnsubAck::new(ack.pkid)),
        v5::Packet::PingResp(_) => v4::Packet::PingResp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_session_keeps_its_meaning_in_mqtt_5() {
        let mut device = v4::Connect::new("thing-1");
        device.clean_session = false;
        device.keep_alive = 30;
        device.last_will = Some(v4::LastWill::new("lwt/thing-1", "gone", rumqttc::mqttbytes::QoS::AtLeastOnce, true));
        let v5::Packet::Connect(upstream, will, _) = connect(device) else { panic!("not a CONNECT") };
        assert_eq!((upstream.client_id.as_str(), upstream.clean_start, upstream.keep_alive), ("thing-1", false, 30));
        assert_eq!(upstream.properties.and_then(|properties| properties.session_expiry_interval), Some(u32::MAX));
        let will = will.unwrap_or_else(|| panic!("no will"));
        assert_eq!((will.topic.as_ref(), will.retain), (&b"lwt/thing-1"[..], true));

        let identity = [("iotrules-client-id".to_owned(), "thing-1".to_owned())];
        let up =
            publish_up(v4::Publish::new("devices/thing-1/t", rumqttc::mqttbytes::QoS::AtLeastOnce, "{}"), &identity);
        assert_eq!(up.properties.map(|properties| properties.user_properties), Some(identity.to_vec()));
        let down = publish_down(v5::Publish::new("devices/x", rumqttc::v5::mqttbytes::QoS::AtLeastOnce, "{}", None));
        assert_eq!(down.map(|publish| publish.topic), Some("devices/x".to_owned()));

        let refused =
            v5::ConnAck { session_present: false, code: v5::ConnectReturnCode::NotAuthorized, properties: None };
        assert_eq!(connack(&refused).code, v4::ConnectReturnCode::NotAuthorized);
        assert_eq!(suback_code(v5::SubscribeReasonCode::NotAuthorized), v4::SubscribeReasonCode::Failure);
        assert!(
            other_down(v5::Packet::Disconnect(v5::Disconnect::new(v5::DisconnectReasonCode::SessionTakenOver)))
                .is_none()
        );
    }
}
