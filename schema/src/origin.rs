//! Where a row was collected: the AWS account and Region a collection read it from. Every
//! collected table carries both, so one store can hold several accounts and Regions and keep
//! them apart. Rows imported from files, which do not say, leave them null.
//!
//! The builders take the origin once per source ([`Origin`] is set on the builder, not passed
//! with each row): a collection reads one account and Region at a time.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::Field;

use crate::types::{DictBuilder, dict_type};

/// The account id column of every collected table.
pub const ACCOUNT_ID: &str = "account_id";
/// The Region column of every collected table.
pub const REGION: &str = "region";

/// An account and Region.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// The two origin fields, appended to a table's schema.
pub(crate) fn fields() -> [Field; 2] {
    [
        Field::new(ACCOUNT_ID, dict_type(), true),
        Field::new(REGION, dict_type(), true),
    ]
}

/// The origin columns of a batch builder: every appended row gets the current origin.
#[derive(Debug, Default)]
pub(crate) struct OriginColumns {
    current: Origin,
    account_id: DictBuilder,
    region: DictBuilder,
}

impl OriginColumns {
    pub(crate) fn set(&mut self, origin: &Origin) {
        self.current.clone_from(origin);
    }

    pub(crate) fn append(&mut self) {
        self.account_id
            .append_option(self.current.account_id.as_deref());
        self.region.append_option(self.current.region.as_deref());
    }

    pub(crate) fn finish(&mut self) -> [ArrayRef; 2] {
        [
            Arc::new(self.account_id.finish()),
            Arc::new(self.region.finish()),
        ]
    }
}
