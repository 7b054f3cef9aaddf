//! JSON records: Lambda's JSON log format (`{"time","type","record"}`, the Telemetry API schema)
//! and application records (`{"timestamp","level","requestId","message"}`, Powertools).
//!
//! Real streams mix types freely (`level` as a number, `record` as a string), so every field is
//! read leniently: a value of an unexpected type is skipped, never a reason to lose the line.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A string field that may hold anything else; anything else reads as absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// One JSON log record, whichever of the shapes it has.
#[derive(Debug, Default, Deserialize)]
pub struct JsonRecord<'a> {
    #[serde(borrow, default)]
    pub time: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub record: Record<'a>,
    #[serde(borrow, default)]
    pub timestamp: Text<'a>,
    #[serde(borrow, default)]
    pub level: Text<'a>,
    #[serde(borrow, default, rename = "requestId")]
    pub request_id: Text<'a>,
    /// Powertools' names for the request and the trace.
    #[serde(borrow, default)]
    pub function_request_id: Text<'a>,
    #[serde(borrow, default)]
    pub xray_trace_id: Text<'a>,
}

impl JsonRecord<'_> {
    /// Whether a JSON object is a log record at all (and not, say, an event dump in a message).
    pub fn is_record(&self) -> bool {
        (self.time.0.is_some() && self.kind.0.is_some())
            || self.timestamp.0.is_some()
            || self.level.0.is_some()
            || self.request_id.0.is_some()
            || self.function_request_id.0.is_some()
    }
}

/// `record`: an object for most platform events, a plain string for `platform.fault` and for
/// `function` / `extension` lines.
#[derive(Debug, Default)]
pub enum Record<'a> {
    #[default]
    None,
    Text(Cow<'a, str>),
    Platform(Box<PlatformRecord<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = Record<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record object or string")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let record =
                    PlatformRecord::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Record::Platform(Box::new(record)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Record::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Record::Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Record::None)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Record::None)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Record::None)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Record::None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Record::None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Record::None)
            }
        }
        d.deserialize_any(RecordVisitor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRecord<'a> {
    #[serde(borrow, default)]
    pub request_id: Text<'a>,
    #[serde(borrow, default)]
    pub version: Text<'a>,
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(borrow, default)]
    pub error_type: Text<'a>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(borrow, default)]
    pub tracing: Option<Tracing<'a>>,
}

/// `platform.report` metrics; integers and floats both read as f64 (`initDurationMs` is either).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub duration_ms: Option<f64>,
    pub billed_duration_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: Option<f64>,
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: Option<f64>,
    pub init_duration_ms: Option<f64>,
    pub restore_duration_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Tracing<'a> {
    #[serde(borrow, default)]
    pub value: Text<'a>,
}

/// The `Root=` part of an `X-Amzn-Trace-Id` header value.
pub fn trace_root(header: &str) -> Option<&str> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_leniently() {
        let r: JsonRecord =
            serde_json::from_str(r#"{"level":42,"message":"numeric level"}"#).unwrap();
        assert_eq!(r.level.get(), None);
        assert!(!r.is_record());
        let r: JsonRecord = serde_json::from_str(r#"{"level":"WARN","msg":{"a":[1]}}"#).unwrap();
        assert_eq!(r.level.get(), Some("WARN"));
        assert!(r.is_record());
    }

    #[test]
    fn reads_fault_string_and_report_object() {
        let fault: JsonRecord = serde_json::from_str(
            r#"{"time":"2020-08-20T12:31:32.123Z","type":"platform.fault","record":"RequestId: d783b35e-a91d-4251-af17-035953428a2c Process exited before completing request"}"#,
        )
        .unwrap();
        assert!(
            matches!(fault.record, Record::Text(ref t) if t.starts_with("RequestId: d783b35e"))
        );
        let report: JsonRecord = serde_json::from_str(
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":0.81,"initDurationMs":1234},"status":"success"}}"#,
        )
        .unwrap();
        let Record::Platform(p) = report.record else {
            panic!("not an object record")
        };
        let m = p.metrics.unwrap();
        assert_eq!(
            (m.duration_ms, m.init_duration_ms, m.billed_duration_ms),
            (Some(0.81), Some(1234.0), None)
        );
    }

    #[test]
    fn finds_trace_root() {
        assert_eq!(
            trace_root(
                "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
            ),
            Some("1-62e900b2-710d76f009d6e7785905449a")
        );
        assert_eq!(trace_root("Parent=0efbd19962d95b05"), None);
    }
}
