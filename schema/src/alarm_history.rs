//! `alarm_history`: one row per change of an alarm's state, as `hopscope alarms` records it in
//! `STORE/_alarms/history/` (see the analyzer's `alarms::state`).

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::MapColumnBuilder;
use crate::types::{DictBuilder, dict_type, string_map_type, timestamp_type};

pub const TABLE: &str = "alarm_history";

pub mod col {
    /// The rule's name.
    pub const RULE: &str = "rule";
    /// Which of the rule's alarms: the function, service, `caller -> callee` or query key.
    pub const KEY: &str = "key";
    /// OK, ALARM or INSUFFICIENT_DATA.
    pub const FROM_STATE: &str = "from_state";
    pub const TO_STATE: &str = "to_state";
    /// The evaluation time that saw the change.
    pub const AT: &str = "at";
    pub const REASON: &str = "reason";
    pub const SEVERITY: &str = "severity";
    pub const LABELS: &str = "labels";
    pub const DESCRIPTION: &str = "description";
    pub const ACTIONS_ENABLED: &str = "actions_enabled";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    Arc::new(Schema::new(vec![
        Field::new(RULE, DataType::Utf8, false),
        Field::new(KEY, DataType::Utf8, false),
        Field::new(FROM_STATE, dict_type(), false),
        Field::new(TO_STATE, dict_type(), false),
        Field::new(AT, timestamp_type(), false),
        Field::new(REASON, DataType::Utf8, false),
        Field::new(SEVERITY, dict_type(), false),
        Field::new(LABELS, string_map_type(), true),
        Field::new(DESCRIPTION, DataType::Utf8, true),
        Field::new(ACTIONS_ENABLED, DataType::Boolean, false),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmHistoryRow<'a> {
    pub rule: &'a str,
    pub key: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    /// Epoch microseconds.
    pub at: i64,
    pub reason: &'a str,
    pub severity: &'a str,
    pub labels: Vec<(&'a str, &'a str)>,
    pub description: Option<&'a str>,
    pub actions_enabled: bool,
}

#[derive(Default)]
pub struct AlarmHistoryBatchBuilder {
    rule: StringBuilder,
    key: StringBuilder,
    from_state: DictBuilder,
    to_state: DictBuilder,
    at: TimestampMicrosecondBuilder,
    reason: StringBuilder,
    severity: DictBuilder,
    labels: MapColumnBuilder,
    description: StringBuilder,
    actions_enabled: BooleanBuilder,
    rows: usize,
}

impl AlarmHistoryBatchBuilder {
    pub fn append(&mut self, r: &AlarmHistoryRow<'_>) {
        self.rule.append_value(r.rule);
        self.key.append_value(r.key);
        self.from_state.append_value(r.from_state);
        self.to_state.append_value(r.to_state);
        self.at.append_value(r.at);
        self.reason.append_value(r.reason);
        self.severity.append_value(r.severity);
        self.labels.append(r.labels.iter().copied());
        self.description.append_option(r.description);
        self.actions_enabled.append_value(r.actions_enabled);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.rule.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.from_state.finish()),
            Arc::new(self.to_state.finish()),
            Arc::new(self.at.finish().with_timezone("UTC")),
            Arc::new(self.reason.finish()),
            Arc::new(self.severity.finish()),
            self.labels.finish(),
            Arc::new(self.description.finish()),
            Arc::new(self.actions_enabled.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(schema(), columns).expect("builders follow the alarm_history schema")
    }
}
