//! `top_n(id, value, n)`: the `n` ids with the largest values of a group, largest first, as a
//! list of `{id, value}`; ties go to the smaller id. Hops use it to name their slowest traces
//! in the same pass that aggregates them, keeping `n` entries a group instead of sorting all.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, ListArray, ListBuilder, StringBuilder,
    StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

pub const TOP_N: &str = "top_n";

/// Field names of the result's entries.
pub const ID: &str = "id";
pub const VALUE: &str = "value";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TopNUdaf {
    signature: Signature,
}

impl Default for TopNUdaf {
    fn default() -> Self {
        TopNUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn entry_fields() -> Fields {
    Fields::from(vec![
        Field::new(ID, DataType::Utf8, false),
        Field::new(VALUE, DataType::Float64, false),
    ])
}

fn result_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(
        DataType::Struct(entry_fields()),
        true,
    )))
}

/// `n`, which must be a non-negative integer literal.
fn limit(args: &AccumulatorArgs) -> Result<usize> {
    let n = args
        .exprs
        .get(2)
        .and_then(|e| e.downcast_ref::<Literal>())
        .map(|l| l.value().clone());
    match n {
        Some(v) => match v.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(n)) if n >= 0 => Ok(n as usize),
            _ => exec_err!("{TOP_N}: n must be a non-negative integer, got {v}"),
        },
        None => exec_err!("{TOP_N}: n must be a literal (as in top_n(trace_id, ms, 3))"),
    }
}

impl AggregateUDFImpl for TopNUdaf {
    fn name(&self) -> &str {
        TOP_N
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [_, value, n] = arg_types else {
            return plan_err!("{TOP_N} takes three arguments: id, value, n");
        };
        if !(value.is_numeric() || value.is_null()) {
            return plan_err!("{TOP_N}: value must be a number, got {value}");
        }
        if !n.is_integer() {
            return plan_err!("{TOP_N}: n must be an integer, got {n}");
        }
        Ok(vec![DataType::Utf8, DataType::Float64, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(result_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "top"),
            result_type(),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TopNAccumulator(TopNGroups::new(limit(&args)?))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(TopNGroups::new(limit(&args)?)))
    }
}

/// One group's best entries, best first.
#[derive(Debug, Default)]
pub(crate) struct Top(Vec<(f64, String)>);

/// Whether `(value, id)` ranks before `other`.
fn before(value: f64, id: &str, other: &(f64, String)) -> bool {
    match value.total_cmp(&other.0) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => id < other.1.as_str(),
    }
}

impl Top {
    /// Best first.
    pub(crate) fn entries(&self) -> &[(f64, String)] {
        &self.0
    }

    pub(crate) fn offer(&mut self, n: usize, value: f64, id: &str) {
        if self.0.len() == n && self.0.last().is_none_or(|last| !before(value, id, last)) {
            return;
        }
        let at = self.0.partition_point(|e| !before(value, id, e));
        self.0.insert(at, (value, id.to_owned()));
        self.0.truncate(n);
    }
}

#[derive(Debug)]
struct TopNGroups {
    n: usize,
    groups: Vec<Top>,
}

impl TopNGroups {
    fn new(n: usize) -> Self {
        TopNGroups {
            n,
            groups: Vec::new(),
        }
    }

    fn grow(&mut self, total: usize) {
        if self.groups.len() < total {
            self.groups.resize_with(total, Top::default);
        }
    }

    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        lists(&emit_to.take_needed(&mut self.groups))
    }
}

/// One list of `{id, value}` per group.
fn lists(tops: &[Top]) -> ArrayRef {
    let mut out =
        ListBuilder::new(StructBuilder::from_fields(entry_fields(), 0)).with_field(Arc::new(
            Field::new_list_field(DataType::Struct(entry_fields()), true),
        ));
    for top in tops {
        let entries = out.values();
        for (value, id) in &top.0 {
            entries
                .field_builder::<StringBuilder>(0)
                .expect("id field")
                .append_value(id);
            entries
                .field_builder::<Float64Builder>(1)
                .expect("value field")
                .append_value(*value);
            entries.append(true);
        }
        out.append(true);
    }
    Arc::new(out.finish())
}

impl GroupsAccumulator for TopNGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        if self.n == 0 {
            return Ok(());
        }
        let ids = values[0].as_string::<i32>();
        let vals = values[1].as_primitive::<Float64Type>();
        for (row, &g) in group_indices.iter().enumerate() {
            let passes = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if passes && ids.is_valid(row) && vals.is_valid(row) {
                self.groups[g].offer(self.n, vals.value(row), ids.value(row));
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let lists: &ListArray = values[0].as_list::<i32>();
        for (row, &g) in group_indices.iter().enumerate() {
            if lists.is_null(row) {
                continue;
            }
            let entries = lists.value(row);
            let entries = entries.as_struct();
            let ids = entries.column(0).as_string::<i32>();
            let vals = entries.column(1).as_primitive::<Float64Type>();
            for i in 0..entries.len() {
                self.groups[g].offer(self.n, vals.value(i), ids.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.emit(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)])
    }

    /// Each row as a group of its own (when DataFusion skips the partial aggregation).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let mut single = TopNGroups::new(self.n);
        single.update_batch(values, &(0..rows).collect::<Vec<_>>(), opt_filter, rows)?;
        Ok(vec![lists(&single.groups)])
    }

    fn size(&self) -> usize {
        let entry = size_of::<(f64, String)>() + 36;
        size_of::<Self>()
            + self.groups.capacity() * size_of::<Top>()
            + self.groups.len() * self.n * entry
    }
}

/// The same for a query without GROUP BY: one group.
#[derive(Debug)]
struct TopNAccumulator(TopNGroups);

impl Accumulator for TopNAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values[0].len();
        self.0.update_batch(values, &vec![0; rows], None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[0].len();
        self.0.merge_batch(states, &vec![0; rows], 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.grow(1);
        ScalarValue::try_from_array(&lists(&self.0.groups[..1]), 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::catalog::MemTable;
    use datafusion::logical_expr::AggregateUDF;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// Rows as (group, id, value), spread over partitions so partial states merge.
    async fn top(partitions: &[&[(&str, &str, Option<f64>)]], n: i64) -> Vec<(String, String)> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("v", DataType::Float64, true),
        ]));
        let batches = partitions
            .iter()
            .map(|rows| {
                vec![
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![
                            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
                        ],
                    )
                    .unwrap(),
                ]
            })
            .collect();
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
        ctx.register_udaf(AggregateUDF::from(TopNUdaf::default()));
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, batches).unwrap()))
            .unwrap();
        let sql = format!("SELECT g, top_n(id, v, {n}) FROM t GROUP BY g ORDER BY g");
        let out = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let b = &out[0];
        (0..b.num_rows())
            .map(|i| {
                (
                    b.column(0).as_string::<i32>().value(i).to_owned(),
                    array_value_to_string(b.column(1), i).unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn keeps_the_largest_across_partitions_ties_to_the_smaller_id() {
        let got = top(
            &[
                &[
                    ("a", "t1", Some(5.0)),
                    ("a", "t2", Some(9.0)),
                    ("b", "t9", None),
                ],
                &[
                    ("a", "t3", Some(9.0)),
                    ("a", "t4", Some(1.0)),
                    ("b", "t8", Some(2.0)),
                ],
                &[("a", "t0", Some(7.0))],
            ],
            2,
        )
        .await;
        assert_eq!(
            got,
            [
                (
                    "a".into(),
                    "[{id: t2, value: 9.0}, {id: t3, value: 9.0}]".into()
                ),
                ("b".into(), "[{id: t8, value: 2.0}]".into()),
            ]
        );
    }

    #[tokio::test]
    async fn zero_keeps_nothing() {
        let got = top(&[&[("a", "t1", Some(5.0))]], 0).await;
        assert_eq!(got, [("a".into(), "[]".into())]);
    }
}
