//! [`Query`] -> DataFusion plans: each command turns the relation so far into the next one.
//!
//! The relation keeps every field a command made (so a `filter` after `fields` still sees
//! `@message`, as in Logs Insights); which fields are shown is tracked beside it and applied
//! at the end. Logs Insights values are loosely typed: text meets a number as a number (a JSON
//! field or a `parse` result compared with `> 500`, summed or averaged), a condition sums as 1
//! or 0, and `/` always divides as decimals.

use std::collections::HashMap;
use std::ops::Not;
use std::sync::Arc;

use chrono::{DateTime, Months};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, IntervalMonthDayNano, Schema, TimeUnit};
use datafusion::common::{DFSchema, DataFusionError, ScalarValue};
use datafusion::functions::expr_fn as f;
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::functions_nested::expr_fn::{array_element, make_array};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{ExprFunctionExt, ExprSchemable, Operator, SortExpr, binary_expr};
use datafusion::prelude::{
    DataFrame, Expr, SessionContext, cast, ident, in_list, lit, try_cast, when,
};
use datafusion_functions_json::udfs::{json_as_text_udf, json_get_array_udf, json_get_json_udf};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::ast::{
    BinOp, Command, CommandKind, DiffPeriod, Expr as Ast, ExprKind, MatchPattern, ParsePattern,
    Projection, Query, SortKey,
};
use super::error::QueryError;
use super::lexer::{Period, Span};
use super::patterns::Drain;
use super::source::{self, field};
use super::{Scope, output};
use crate::error::{Error, Result};
use crate::window::Window;

/// Rows a query returns when it sets no `limit`, as in Logs Insights.
pub const DEFAULT_LIMIT: usize = 10_000;

const AGGREGATES: [&str; 11] = [
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "pct",
    "percentile",
    "stddev",
    "earliest",
    "latest",
];

/// Logs Insights aggregates hopscope does not run (refused with the list of those it does).
const UNSUPPORTED_AGGREGATES: [&str; 2] = ["sortsfirst", "sortslast"];

/// The relation after some commands, and how it is shown.
struct Stage {
    df: DataFrame,
    /// Fields chosen by `fields` / `display`, in order; empty: the default.
    shown: Vec<String>,
    /// The order of the last `sort` (or of `stats` groups, patterns), re-applied where a later
    /// command may lose it.
    ordering: Vec<SortExpr>,
    /// Rows are log events (not `stats` or pattern rows): shown newest first, as
    /// `@timestamp` and `@message` unless fields are chosen.
    events: bool,
    limited: bool,
}

impl Stage {
    fn events(df: DataFrame) -> Stage {
        Stage {
            df,
            shown: Vec::new(),
            ordering: Vec::new(),
            events: true,
            limited: false,
        }
    }

    fn derived(df: DataFrame, shown: Vec<String>, ordering: Vec<SortExpr>) -> Stage {
        Stage {
            df,
            shown,
            ordering,
            events: false,
            limited: false,
        }
    }

    fn schema(&self) -> &DFSchema {
        self.df.schema()
    }

    fn show(&mut self, name: &str) {
        if !self.shown.iter().any(|s| s == name) {
            self.shown.push(name.to_string());
        }
    }

    /// The order rows are in: the last `sort`, else newest first for events.
    fn order(&self) -> Vec<SortExpr> {
        if self.ordering.is_empty() && self.events && has_column(self.schema(), field::TIMESTAMP) {
            return vec![ident(field::TIMESTAMP).sort(false, false)];
        }
        self.ordering.clone()
    }
}

pub struct Planner<'a> {
    ctx: &'a SessionContext,
    src: &'a str,
    scope: &'a Scope,
}

impl<'a> Planner<'a> {
    pub fn new(ctx: &'a SessionContext, src: &'a str, scope: &'a Scope) -> Self {
        Planner { ctx, src, scope }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> Error {
        Error::Query(QueryError::at(self.src, span.start, message))
    }

    /// The query's result, as a DataFrame ready to collect.
    pub async fn plan(&self, query: &Query) -> Result<DataFrame> {
        let stage = self.commands(&query.commands, self.scope.window).await?;
        self.finish(stage)
    }

    fn commands(
        &self,
        commands: &'a [Command],
        window: Option<Window>,
    ) -> BoxFuture<'_, Result<Stage>> {
        async move {
            let df = source::events(self.ctx, window, &self.scope.log_groups).await?;
            let mut stage = Stage::events(df);
            for (i, command) in commands.iter().enumerate() {
                stage = match &command.kind {
                    CommandKind::Diff(period) => {
                        self.diff(&commands[..i], *period, command.span).await?
                    }
                    // `pattern x | diff` clusters in the diff, over both windows.
                    CommandKind::Pattern(_)
                        if matches!(
                            commands.get(i + 1).map(|c| &c.kind),
                            Some(CommandKind::Diff(_))
                        ) =>
                    {
                        stage
                    }
                    CommandKind::Pattern(input) => self.pattern(stage, input).await?,
                    _ => self.apply(stage, command)?,
                };
            }
            Ok(stage)
        }
        .boxed()
    }

    fn apply(&self, mut stage: Stage, command: &Command) -> Result<Stage> {
        match &command.kind {
            CommandKind::Fields(projections) => {
                for p in projections {
                    self.project(&mut stage, p)?;
                }
            }
            CommandKind::Display(projections) => {
                stage.shown.clear();
                for p in projections {
                    self.project(&mut stage, p)?;
                }
            }
            CommandKind::Filter(condition) => {
                let predicate = self.condition(stage.schema(), condition)?;
                stage.df = stage.df.filter(predicate)?;
            }
            CommandKind::Stats { items, by } => return self.stats(stage, items, by),
            CommandKind::Sort(keys) => {
                let mut order = Vec::new();
                for key in keys {
                    order.extend(self.sort_key(&mut stage, key)?);
                }
                // Keys that order nothing (a dropped field) leave the order as it was.
                if !order.is_empty() {
                    stage.df = stage.df.sort(order.clone())?;
                    stage.ordering = order;
                }
            }
            CommandKind::Limit(n) => {
                let order = stage.order();
                if !order.is_empty() {
                    stage.df = stage.df.sort(order)?;
                }
                stage.df = stage.df.limit(0, Some(*n as usize))?;
                stage.limited = true;
            }
            CommandKind::Dedup(fields) => {
                let keys = fields
                    .iter()
                    .map(|e| self.expr(stage.schema(), e))
                    .collect::<Result<Vec<_>>>()?;
                let any_null = keys
                    .iter()
                    .map(|k| k.clone().is_null())
                    .reduce(Expr::or)
                    .expect("dedup names at least one field");
                let first = row_number()
                    .partition_by(keys)
                    .order_by(stage.order())
                    .build()?;
                const ROW: &str = "__dedup_row";
                stage.df = stage
                    .df
                    .with_column(ROW, first)?
                    .filter(ident(ROW).eq(lit(1u64)).or(any_null))?
                    .drop_columns(&[ROW])?;
            }
            CommandKind::Parse {
                source,
                pattern,
                names,
            } => self.parse(&mut stage, source, pattern, names)?,
            CommandKind::Unnest { source, into } => {
                let list = self.list(stage.schema(), source)?;
                stage.df = stage.df.with_column(into, list)?.unnest_columns(&[into])?;
            }
            CommandKind::Pattern(_) | CommandKind::Diff(_) => {
                unreachable!("pattern and diff are planned by `commands`")
            }
        }
        Ok(stage)
    }

    /// `fields` / `display`: a field to show, computed first unless it is already a column.
    fn project(&self, stage: &mut Stage, p: &Projection) -> Result<()> {
        let name = p.name();
        let existing = matches!(&p.expr.kind, ExprKind::Field(f) if f == name)
            && has_column(stage.schema(), name);
        if !existing {
            let value = self.expr(stage.schema(), &p.expr)?;
            stage.df = stage.df.clone().with_column(name, value)?;
        }
        stage.show(name);
        Ok(())
    }

    /// The order of one `sort` key. Text sorts as Logs Insights sorts it: values that are
    /// numbers after all others and by value (so "9" before "10"), the rest by text. A
    /// discovered field the relation no longer has (`stats ... | sort @timestamp`) orders
    /// nothing, as in Logs Insights.
    fn sort_key(&self, stage: &mut Stage, key: &SortKey) -> Result<Vec<SortExpr>> {
        let asc = !key.descending;
        let schema = stage.schema();
        let value = if has_column(schema, &key.text) {
            ident(&key.text)
        } else {
            match &key.expr.kind {
                ExprKind::Field(name)
                    if name.starts_with('@') && field::ALL.contains(&name.as_str()) =>
                {
                    return Ok(Vec::new());
                }
                _ => self.expr(schema, &key.expr)?,
            }
        };
        if !is_text(&value.get_type(schema)?) {
            return Ok(vec![value.sort(asc, false)]);
        }
        // The keys are columns of their own: a `try_cast` has its operand's name, and
        // DataFusion's optimizer then mistakes `try_cast(x) IS NOT NULL` for `x IS NOT NULL`.
        let n = schema.fields().len();
        let (is_number, number) = (
            format!("__sort_is_number_{n}"),
            format!("__sort_number_{n}"),
        );
        let as_number = try_cast(value.clone(), DataType::Float64);
        stage.df = stage
            .df
            .clone()
            .with_column(&number, as_number.clone())?
            .with_column(&is_number, as_number.is_not_null())?;
        Ok(vec![
            ident(is_number).sort(asc, false),
            ident(number).sort(asc, false),
            value.sort(asc, false),
        ])
    }

    /// The result: the chosen fields, in order, at most [`DEFAULT_LIMIT`] rows unless a
    /// `limit` said otherwise.
    fn finish(&self, stage: Stage) -> Result<DataFrame> {
        let order = stage.order();
        let mut df = stage.df.clone();
        if !order.is_empty() {
            df = df.sort(order)?;
        }
        if !stage.limited {
            df = df.limit(0, Some(DEFAULT_LIMIT))?;
        }
        let shown: Vec<String> = if !stage.shown.is_empty() {
            stage.shown
        } else if stage.events {
            vec![field::TIMESTAMP.into(), field::MESSAGE.into()]
        } else {
            stage
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !n.starts_with("__"))
                .collect()
        };
        Ok(df.select(shown.iter().map(ident).collect::<Vec<_>>())?)
    }

    fn stats(&self, stage: Stage, items: &[Projection], by: &[Projection]) -> Result<Stage> {
        let schema = stage.schema();
        let mut groups = Vec::new();
        let mut group_names: Vec<String> = Vec::new();
        for g in by {
            let value = self.expr(schema, &g.expr)?;
            groups.push(value.alias(g.name()));
            group_names.push(g.name().to_string());
        }
        let mut aggregates = Vec::new();
        let mut lifted: HashMap<String, Ast> = HashMap::new();
        let mut outputs = Vec::new();
        for item in items {
            let ast = self.lift(schema, &item.expr, &lifted, &group_names, &mut aggregates)?;
            lifted.insert(item.name().to_string(), ast.clone());
            outputs.push((item.name().to_string(), ast));
        }
        let df = stage.df.aggregate(groups, aggregates)?;
        let mut select: Vec<Expr> = group_names.iter().map(ident).collect();
        for (name, ast) in &outputs {
            select.push(self.expr(df.schema(), ast)?.alias(name));
        }
        let df = df.select(select)?;
        let ordering = group_names
            .iter()
            .map(|g| ident(g).sort(true, false))
            .collect();
        let shown = group_names
            .into_iter()
            .chain(outputs.into_iter().map(|(n, _)| n))
            .collect();
        Ok(Stage::derived(df, shown, ordering))
    }

    /// A `stats` item with each aggregate call planned into `aggregates` and replaced by the
    /// field `__agg<N>` that will hold it; names of earlier items stand for their expressions.
    fn lift(
        &self,
        schema: &DFSchema,
        e: &Ast,
        items: &HashMap<String, Ast>,
        groups: &[String],
        aggregates: &mut Vec<Expr>,
    ) -> Result<Ast> {
        let kind = match &e.kind {
            ExprKind::Call { name, args } if is_aggregate(name) => {
                let value = self.aggregate(schema, name, args, e.span)?;
                let column = format!("__agg{}", aggregates.len());
                aggregates.push(value.alias(&column));
                ExprKind::Field(column)
            }
            ExprKind::Field(name) => {
                if let Some(item) = items.get(name) {
                    return Ok(item.clone());
                }
                if !groups.contains(name) {
                    return Err(self.error(
                        e.span,
                        format!("'{name}' must be inside an aggregate function (count, sum, avg, ...) or named after 'by'"),
                    ));
                }
                ExprKind::Field(name.clone())
            }
            ExprKind::Neg(inner) => ExprKind::Neg(Box::new(
                self.lift(schema, inner, items, groups, aggregates)?,
            )),
            ExprKind::Not(inner) => ExprKind::Not(Box::new(
                self.lift(schema, inner, items, groups, aggregates)?,
            )),
            ExprKind::Binary(op, l, r) => ExprKind::Binary(
                *op,
                Box::new(self.lift(schema, l, items, groups, aggregates)?),
                Box::new(self.lift(schema, r, items, groups, aggregates)?),
            ),
            ExprKind::Match {
                expr,
                pattern,
                pattern_span,
                negated,
            } => ExprKind::Match {
                expr: Box::new(self.lift(schema, expr, items, groups, aggregates)?),
                pattern: pattern.clone(),
                pattern_span: *pattern_span,
                negated: *negated,
            },
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let expr = Box::new(self.lift(schema, expr, items, groups, aggregates)?);
                let mut lifted = Vec::with_capacity(list.len());
                for item in list {
                    lifted.push(self.lift(schema, item, items, groups, aggregates)?);
                }
                ExprKind::In {
                    expr,
                    list: lifted,
                    negated: *negated,
                }
            }
            ExprKind::Call { name, args } => {
                let mut lifted = Vec::with_capacity(args.len());
                for arg in args {
                    lifted.push(self.lift(schema, arg, items, groups, aggregates)?);
                }
                ExprKind::Call {
                    name: name.clone(),
                    args: lifted,
                }
            }
            other => other.clone(),
        };
        Ok(Ast { kind, span: e.span })
    }

    fn aggregate(&self, schema: &DFSchema, name: &str, args: &[Ast], span: Span) -> Result<Expr> {
        let lower = name.to_ascii_lowercase();
        let one = |what: &str| -> Result<&Ast> {
            match args {
                [a] => Ok(a),
                _ => Err(self.error(span, format!("{name}() takes {what}"))),
            }
        };
        Ok(match lower.as_str() {
            "count" => match args {
                [] => count_all().unalias(),
                [
                    Ast {
                        kind: ExprKind::Star,
                        ..
                    },
                ] => count_all().unalias(),
                [a] => agg::count(self.expr(schema, a)?),
                _ => return Err(self.error(span, "count() takes one field, or *")),
            },
            "count_distinct" => agg::count_distinct(self.expr(schema, one("one field")?)?),
            "sum" => agg::sum(self.numeric(schema, one("one field")?)?),
            "avg" => agg::avg(self.float(schema, one("one field")?)?),
            "stddev" => agg::stddev(self.float(schema, one("one field")?)?),
            "min" | "max" => {
                let a = one("one field")?;
                let value = self.expr(schema, a)?;
                // Text (a JSON field, a parse result) is compared as a number, as the
                // numbers Logs Insights sees in it.
                let value = if is_text(&value.get_type(schema)?) {
                    try_cast(value, DataType::Float64)
                } else {
                    value
                };
                if lower == "min" {
                    agg::min(value)
                } else {
                    agg::max(value)
                }
            }
            "pct" | "percentile" => {
                let [value, p] = args else {
                    return Err(self.error(
                        span,
                        format!(
                            "{name}() takes a field and a percentile, such as {name}(@duration, 95)"
                        ),
                    ));
                };
                let percentile = match p.kind {
                    ExprKind::Int(i) => i as f64,
                    ExprKind::Float(f) => f,
                    _ => return Err(self.error(p.span, "expected a percentile from 0 to 100")),
                };
                if !(0.0..=100.0).contains(&percentile) {
                    return Err(self.error(p.span, "expected a percentile from 0 to 100"));
                }
                agg::percentile_cont(
                    self.float(schema, value)?.sort(true, false),
                    lit(percentile / 100.0),
                )
            }
            "earliest" | "latest" => {
                if !has_column(schema, field::TIMESTAMP) {
                    return Err(self.error(
                        span,
                        format!(
                            "{name}() needs @timestamp, which an earlier stats or pattern dropped"
                        ),
                    ));
                }
                let value = self.expr(schema, one("one field")?)?;
                let by_time = vec![ident(field::TIMESTAMP).sort(true, false)];
                if lower == "earliest" {
                    agg::first_value(value, by_time)
                } else {
                    agg::last_value(value, by_time)
                }
            }
            _ => {
                return Err(self.error(
                    span,
                    format!("'{name}' is not a Logs Insights aggregate; stats takes count, count_distinct, sum, avg, min, max, pct, stddev, earliest and latest"),
                ));
            }
        })
    }

    fn parse(
        &self,
        stage: &mut Stage,
        source: &Ast,
        pattern: &ParsePattern,
        names: &[(String, Span)],
    ) -> Result<()> {
        let text = self.text(stage.schema(), source)?;
        let (regex, fields): (String, Vec<(usize, String)>) = match pattern {
            ParsePattern::Glob(glob, span) => {
                let stars = glob.matches('*').count();
                if stars == 0 || stars != names.len() {
                    return Err(self.error(
                        *span,
                        format!(
                            "this glob has {stars} '*' and {} names follow 'as': give one name per '*'",
                            names.len()
                        ),
                    ));
                }
                (
                    glob_regex(glob),
                    names
                        .iter()
                        .enumerate()
                        .map(|(i, (n, _))| (i + 1, n.clone()))
                        .collect(),
                )
            }
            ParsePattern::Regex(re, span) => {
                if let Some((_, at)) = names.first() {
                    return Err(self.error(
                        *at,
                        "a regular expression names its fields itself, with (?<name>...): drop 'as'",
                    ));
                }
                let compiled = self.regex(re, *span)?;
                let fields: Vec<(usize, String)> = compiled
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (i, n.to_string())))
                    .collect();
                if fields.is_empty() {
                    return Err(self.error(
                        *span,
                        "this regular expression names no field: add a named group such as (?<status>\\d+)",
                    ));
                }
                (re.clone(), fields)
            }
        };
        const MATCH: &str = "__parse_match";
        let mut df = stage
            .df
            .clone()
            .with_column(MATCH, f::regexp_match(text, lit(regex), None))?;
        for (group, name) in &fields {
            df = df.with_column(name, array_element(ident(MATCH), lit(*group as i64)))?;
        }
        stage.df = df.drop_columns(&[MATCH])?;
        Ok(())
    }

    async fn pattern(&self, stage: Stage, input: &Ast) -> Result<Stage> {
        let lines = self.lines(stage, input).await?;
        let mut drain = Drain::new();
        let mut counts = Vec::new();
        for line in &lines {
            let id = drain.add(line);
            if id == counts.len() {
                counts.push(0u64);
            }
            counts[id] += 1;
        }
        let total = lines.len().max(1) as f64;
        let mut patterns = drain.patterns();
        patterns.sort_by(|a, b| b.lines.cmp(&a.lines).then_with(|| a.text.cmp(&b.text)));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new(output::PATTERN, DataType::Utf8, false),
                Field::new(output::RATIO, DataType::Float64, false),
                Field::new(output::SAMPLE_COUNT, DataType::Int64, false),
                Field::new(output::SEVERITY, DataType::Utf8, true),
            ])),
            vec![
                strings(patterns.iter().map(|p| Some(p.text.as_str()))),
                Arc::new(Float64Array::from_iter_values(
                    patterns.iter().map(|p| p.lines as f64 / total),
                )),
                Arc::new(Int64Array::from_iter_values(
                    patterns.iter().map(|p| p.lines as i64),
                )),
                strings(patterns.iter().map(|p| p.severity)),
            ],
        )
        .map_err(DataFusionError::from)?;
        let ordering = vec![
            ident(output::SAMPLE_COUNT).sort(false, false),
            ident(output::PATTERN).sort(true, false),
        ];
        let shown = batch_names(&batch);
        Ok(Stage::derived(self.ctx.read_batch(batch)?, shown, ordering))
    }

    /// The text `input` takes on each row, oldest first (ties by text, so the same rows
    /// always come in the same order).
    async fn lines(&self, stage: Stage, input: &Ast) -> Result<Vec<String>> {
        const LINE: &str = "__pattern_line";
        let text = self.text(stage.schema(), input)?;
        let mut order = Vec::new();
        if has_column(stage.schema(), field::TIMESTAMP) {
            order.push(ident(field::TIMESTAMP).sort(true, false));
        }
        order.push(ident(LINE).sort(true, false));
        let df = stage
            .df
            .with_column(LINE, text)?
            .filter(ident(LINE).is_not_null())?
            .sort(order)?
            .select(vec![ident(LINE)])?;
        let mut lines = Vec::new();
        for batch in df.collect().await? {
            let column = cast_to_strings(batch.column(0))?;
            lines.extend(column.iter().flatten().map(str::to_string));
        }
        Ok(lines)
    }

    async fn diff(&self, before: &'a [Command], period: DiffPeriod, span: Span) -> Result<Stage> {
        let Some(window) = self.scope.window else {
            return Err(self.error(
                span,
                "diff compares the query's time window with an earlier one: give the window (--since/--until)",
            ));
        };
        let baseline = baseline(window, period)
            .ok_or_else(|| self.error(span, "the baseline window is out of range"))?;
        let message = Ast {
            kind: ExprKind::Field(field::MESSAGE.into()),
            span,
        };
        let (before, input) = match before.split_last() {
            Some((
                Command {
                    kind: CommandKind::Pattern(input),
                    ..
                },
                rest,
            )) => (rest, input),
            _ => (before, &message),
        };
        if let Some(c) = before.iter().find(|c| {
            matches!(
                c.kind,
                CommandKind::Diff(_) | CommandKind::Stats { .. } | CommandKind::Pattern(_)
            )
        }) {
            return Err(self.error(
                c.span,
                "diff compares log events: stats, pattern and diff go after it, not before",
            ));
        }
        let mut drain = Drain::new();
        let mut counts: Vec<[u64; 2]> = Vec::new();
        for (side, w) in [(1, baseline), (0, window)] {
            let stage = self.commands(before, Some(w)).await?;
            for line in self.lines(stage, input).await? {
                let id = drain.add(&line);
                if id == counts.len() {
                    counts.push([0, 0]);
                }
                counts[id][side] += 1;
            }
        }
        let mut rows: Vec<DiffRow> = drain
            .patterns()
            .into_iter()
            .map(|p| DiffRow::new(p.text, p.severity, counts[p.id]))
            .collect();
        rows.sort_by_key(DiffRow::rank_key);
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new(output::PATTERN, DataType::Utf8, false),
                Field::new(output::CHANGE_TYPE, DataType::Utf8, false),
                Field::new(output::SAMPLE_COUNT, DataType::Int64, false),
                Field::new(output::PREVIOUS_SAMPLE_COUNT, DataType::Int64, false),
                Field::new(output::CHANGE, DataType::Int64, false),
                Field::new(output::CHANGE_PERCENT, DataType::Float64, true),
                Field::new(output::SEVERITY, DataType::Utf8, true),
                Field::new(DIFF_RANK, DataType::Int64, false),
            ])),
            vec![
                strings(rows.iter().map(|r| Some(r.pattern.as_str()))),
                strings(rows.iter().map(|r| Some(r.change_type))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.now))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.before))),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.now - r.before),
                )),
                Arc::new(
                    rows.iter()
                        .map(DiffRow::change_percent)
                        .collect::<Float64Array>(),
                ),
                strings(rows.iter().map(|r| r.severity)),
                Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
            ],
        )
        .map_err(DataFusionError::from)?;
        let shown = batch_names(&batch);
        Ok(Stage::derived(
            self.ctx.read_batch(batch)?,
            shown,
            vec![ident(DIFF_RANK).sort(true, false)],
        ))
    }

    /// `re` compiled by the engine DataFusion runs it with, or why not (on one line).
    fn regex(&self, re: &str, span: Span) -> Result<regex::Regex> {
        regex::Regex::new(re).map_err(|err| {
            let text = err.to_string();
            let reason = text.lines().last().unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            self.error(span, format!("bad regular expression /{re}/: {reason}"))
        })
    }

    /// A boolean expression for `filter`.
    fn condition(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        let value = self.expr(schema, e)?;
        Ok(match value.get_type(schema)? {
            DataType::Boolean => value,
            DataType::Null => lit(false),
            t if t.is_numeric() => value.not_eq(lit(0)),
            _ => {
                return Err(self.error(
                    e.span,
                    "expected a condition (a comparison, like, in, ispresent(...))",
                ));
            }
        })
    }

    fn numeric(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        let value = self.expr(schema, e)?;
        match value.get_type(schema)? {
            t if t.is_numeric() => Ok(value),
            DataType::Boolean => Ok(cast(value, DataType::Int64)),
            DataType::Null => Ok(cast(value, DataType::Float64)),
            t if is_text(&t) => Ok(try_cast(value, DataType::Float64)),
            t => Err(self.error(
                e.span,
                format!("expected a number, not a value of type {t}"),
            )),
        }
    }

    fn float(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        Ok(cast(self.numeric(schema, e)?, DataType::Float64))
    }

    fn text(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        let value = self.expr(schema, e)?;
        Ok(match value.get_type(schema)? {
            DataType::Utf8 => value,
            _ => cast(value, DataType::Utf8),
        })
    }

    fn expr(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        Ok(match &e.kind {
            ExprKind::Field(name) => self.field(schema, name, e.span)?,
            ExprKind::Str(s) => lit(s.clone()),
            ExprKind::Int(i) => lit(*i),
            ExprKind::Float(x) => lit(*x),
            ExprKind::Bool(b) => lit(*b),
            ExprKind::Null => lit(ScalarValue::Null),
            ExprKind::Period(_) => {
                return Err(self.error(
                    e.span,
                    "a time period goes in bin(), datefloor() or dateceil()",
                ));
            }
            ExprKind::Star => return Err(self.error(e.span, "'*' goes in count(*)")),
            ExprKind::Neg(inner) => Expr::Negative(Box::new(self.numeric(schema, inner)?)),
            ExprKind::Not(inner) => self.condition(schema, inner)?.not(),
            ExprKind::Binary(op, l, r) => self.binary(schema, *op, l, r)?,
            ExprKind::Match {
                expr,
                pattern,
                pattern_span,
                negated,
            } => {
                let text = self.text(schema, expr)?;
                let matched = match pattern {
                    MatchPattern::Substring(s) => f::strpos(text, lit(s.clone())).gt(lit(0)),
                    MatchPattern::Regex(re) => {
                        self.regex(re, *pattern_span)?;
                        f::regexp_like(text, lit(re.clone()), None)
                    }
                };
                // An absent field matches nothing, so `not like` keeps it.
                let matched = f::coalesce(vec![matched, lit(false)]);
                if *negated { matched.not() } else { matched }
            }
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let mut value = self.expr(schema, expr)?;
                let mut items = list
                    .iter()
                    .map(|i| self.expr(schema, i))
                    .collect::<Result<Vec<_>>>()?;
                let numbers = items
                    .iter()
                    .map(|i| i.get_type(schema).map(|t| t.is_numeric()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if is_text(&value.get_type(schema)?) && numbers.iter().any(|n| *n) {
                    value = try_cast(value, DataType::Float64);
                    items = items
                        .into_iter()
                        .map(|i| try_cast(i, DataType::Float64))
                        .collect();
                }
                in_list(value, items, *negated)
            }
            ExprKind::Call { name, args } => {
                let text = self.src[e.span.start..e.span.end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if has_column(schema, &text) {
                    return Ok(ident(text));
                }
                self.call(schema, name, args, e.span)?
            }
        })
    }

    fn binary(&self, schema: &DFSchema, op: BinOp, l: &Ast, r: &Ast) -> Result<Expr> {
        let arithmetic = |op| -> Result<Expr> {
            Ok(binary_expr(
                self.numeric(schema, l)?,
                op,
                self.numeric(schema, r)?,
            ))
        };
        Ok(match op {
            BinOp::And => self.condition(schema, l)?.and(self.condition(schema, r)?),
            BinOp::Or => self.condition(schema, l)?.or(self.condition(schema, r)?),
            BinOp::Add => arithmetic(Operator::Plus)?,
            BinOp::Sub => arithmetic(Operator::Minus)?,
            BinOp::Mul => arithmetic(Operator::Multiply)?,
            BinOp::Rem => arithmetic(Operator::Modulo)?,
            BinOp::Div => self.float(schema, l)? / self.float(schema, r)?,
            BinOp::Pow => f::power(self.float(schema, l)?, self.float(schema, r)?),
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                let operator = match op {
                    BinOp::Eq => Operator::Eq,
                    BinOp::NotEq => Operator::NotEq,
                    BinOp::Lt => Operator::Lt,
                    BinOp::LtEq => Operator::LtEq,
                    BinOp::Gt => Operator::Gt,
                    _ => Operator::GtEq,
                };
                let (mut a, mut b) = (self.expr(schema, l)?, self.expr(schema, r)?);
                let (ta, tb) = (a.get_type(schema)?, b.get_type(schema)?);
                if (ta.is_numeric() && is_text(&tb)) || (is_text(&ta) && tb.is_numeric()) {
                    a = try_cast(a, DataType::Float64);
                    b = try_cast(b, DataType::Float64);
                } else if (ta == DataType::Boolean && is_text(&tb))
                    || (is_text(&ta) && tb == DataType::Boolean)
                {
                    a = cast(a, DataType::Utf8);
                    b = cast(b, DataType::Utf8);
                }
                binary_expr(a, operator, b)
            }
        })
    }

    /// A field: a column of the relation (a discovered field, one a command made), else a
    /// path into JSON: `a.b.c` reads `b.c` of column `a` when there is one, else `a.b.c` of
    /// `@message`.
    fn field(&self, schema: &DFSchema, name: &str, span: Span) -> Result<Expr> {
        if has_column(schema, name) {
            return Ok(ident(name));
        }
        if field::ALL.contains(&name) {
            return Err(self.error(
                span,
                format!("{name} is not there any more: an earlier stats or pattern keeps only the fields it makes"),
            ));
        }
        if name.starts_with('@') {
            return Err(self.error(
                span,
                format!(
                    "unknown field {name}; the discovered fields are {}",
                    field::ALL.join(", ")
                ),
            ));
        }
        let (base, path) = json_target(schema, name);
        let mut args = vec![base];
        args.extend(path);
        Ok(json_as_text_udf().call(args))
    }

    /// What `unnest` expands: a list column, or the JSON array a field holds (any other JSON
    /// value is a list of itself, as in Logs Insights).
    fn list(&self, schema: &DFSchema, e: &Ast) -> Result<Expr> {
        let ExprKind::Field(name) = &e.kind else {
            return Err(self.error(e.span, "unnest takes a field"));
        };
        let (base, path) = if has_column(schema, name) {
            let column = ident(name);
            if matches!(column.get_type(schema)?, DataType::List(_)) {
                return Ok(column);
            }
            if !is_text(&column.get_type(schema)?) {
                return Ok(make_array(vec![cast(column, DataType::Utf8)]));
            }
            (column, Vec::new())
        } else if name.starts_with('@') {
            return Err(self.error(e.span, format!("unknown field {name}")));
        } else {
            json_target(schema, name)
        };
        let mut args = vec![base];
        args.extend(path);
        Ok(f::coalesce(vec![
            json_get_array_udf().call(args.clone()),
            make_array(vec![json_get_json_udf().call(args)]),
        ]))
    }

    fn call(&self, schema: &DFSchema, name: &str, args: &[Ast], span: Span) -> Result<Expr> {
        let lower = name.to_ascii_lowercase();
        if is_aggregate(&lower) {
            return Err(self.error(span, format!("{name}() is an aggregate: use it in stats")));
        }
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<()> {
            if n.contains(&args.len()) {
                return Ok(());
            }
            let want = if n.start() == n.end() {
                format!("{}", n.start())
            } else {
                format!("{} to {}", n.start(), n.end())
            };
            Err(self.error(
                span,
                format!("{name}() takes {want} arguments, not {}", args.len()),
            ))
        };
        let num = |i: usize| self.numeric(schema, &args[i]);
        let float = |i: usize| self.float(schema, &args[i]);
        let text = |i: usize| self.text(schema, &args[i]);
        let period = |i: usize| -> Result<Period> {
            match args.get(i).map(|a| &a.kind) {
                Some(ExprKind::Period(p)) => Ok(*p),
                _ => Err(self.error(
                    args.get(i).map_or(span, |a| a.span),
                    "expected a time period such as 5m or 1h",
                )),
            }
        };
        Ok(match lower.as_str() {
            "abs" | "ceil" | "floor" | "log" | "sqrt" => {
                arity(1..=1)?;
                match lower.as_str() {
                    "abs" => f::abs(num(0)?),
                    "ceil" => f::ceil(float(0)?),
                    "floor" => f::floor(float(0)?),
                    "log" => f::ln(float(0)?),
                    _ => f::sqrt(float(0)?),
                }
            }
            "greatest" | "least" => {
                if args.is_empty() {
                    return Err(self.error(span, format!("{name}() takes at least one argument")));
                }
                let values = (0..args.len()).map(float).collect::<Result<Vec<_>>>()?;
                if lower == "greatest" {
                    f::greatest(values)
                } else {
                    f::least(values)
                }
            }
            "ispresent" => {
                arity(1..=1)?;
                self.expr(schema, &args[0])?.is_not_null()
            }
            "isempty" => {
                arity(1..=1)?;
                let value = text(0)?;
                value.clone().is_null().or(value.eq(lit("")))
            }
            "isblank" => {
                arity(1..=1)?;
                let value = text(0)?;
                value
                    .clone()
                    .is_null()
                    .or(f::btrim(vec![value]).eq(lit("")))
            }
            "coalesce" => {
                if args.is_empty() {
                    return Err(self.error(span, "coalesce() takes at least one argument"));
                }
                let values = args
                    .iter()
                    .map(|a| self.expr(schema, a))
                    .collect::<Result<Vec<_>>>()?;
                let types = values
                    .iter()
                    .map(|v| v.get_type(schema))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if types.iter().all(|t| t.is_numeric() || *t == DataType::Null) {
                    f::coalesce(
                        values
                            .into_iter()
                            .map(|v| cast(v, DataType::Float64))
                            .collect(),
                    )
                } else if types.windows(2).all(|w| w[0] == w[1]) {
                    f::coalesce(values)
                } else {
                    f::coalesce(
                        values
                            .into_iter()
                            .map(|v| cast(v, DataType::Utf8))
                            .collect(),
                    )
                }
            }
            "concat" => f::concat((0..args.len()).map(text).collect::<Result<Vec<_>>>()?),
            "ltrim" | "rtrim" | "trim" => {
                arity(1..=2)?;
                let values = (0..args.len()).map(text).collect::<Result<Vec<_>>>()?;
                match lower.as_str() {
                    "ltrim" => f::ltrim(values),
                    "rtrim" => f::rtrim(values),
                    _ => f::btrim(values),
                }
            }
            "strlen" => {
                arity(1..=1)?;
                f::character_length(text(0)?)
            }
            "toupper" => {
                arity(1..=1)?;
                f::upper(text(0)?)
            }
            "tolower" => {
                arity(1..=1)?;
                f::lower(text(0)?)
            }
            // Logs Insights counts from 0, SQL from 1.
            "substr" => {
                arity(2..=3)?;
                let start = cast(num(1)?, DataType::Int64) + lit(1i64);
                if args.len() == 2 {
                    f::substr(text(0)?, start)
                } else {
                    f::substring(text(0)?, start, cast(num(2)?, DataType::Int64))
                }
            }
            "replace" => {
                arity(3..=3)?;
                f::replace(text(0)?, text(1)?, text(2)?)
            }
            "strcontains" => {
                arity(2..=2)?;
                when(f::strpos(text(0)?, text(1)?).gt(lit(0)), lit(1i64)).otherwise(lit(0i64))?
            }
            "bin" => {
                arity(1..=1)?;
                if !has_column(schema, field::TIMESTAMP) {
                    return Err(self.error(
                        span,
                        "bin() needs @timestamp, which an earlier stats or pattern dropped",
                    ));
                }
                floor_to(period(0)?, ident(field::TIMESTAMP))
            }
            "datefloor" | "dateceil" => {
                arity(2..=2)?;
                let p = period(1)?;
                let ts = self.expr(schema, &args[0])?;
                let floor = floor_to(p, ts.clone());
                if lower == "datefloor" {
                    floor
                } else {
                    when(floor.clone().eq(ts), floor.clone()).otherwise(floor + interval(p))?
                }
            }
            "frommillis" => {
                arity(1..=1)?;
                cast(
                    cast(num(0)?, DataType::Int64) * lit(1000i64),
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                )
            }
            "tomillis" => {
                arity(1..=1)?;
                let ts = cast(
                    self.expr(schema, &args[0])?,
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                );
                cast(ts, DataType::Int64) / lit(1000i64)
            }
            "jsonparse" => {
                arity(1..=1)?;
                text(0)?
            }
            _ => {
                return Err(self.error(
                    span,
                    format!(
                        "unknown function {name}(); see the README for the functions hopscope runs"
                    ),
                ));
            }
        })
    }
}

const DIFF_RANK: &str = "__diff_rank";

/// One pattern of a `diff`.
struct DiffRow {
    pattern: String,
    severity: Option<&'static str>,
    now: i64,
    before: i64,
    change_type: &'static str,
}

impl DiffRow {
    fn new(pattern: String, severity: Option<&'static str>, [now, before]: [u64; 2]) -> DiffRow {
        let (now, before) = (now as i64, before as i64);
        let change_type = match (now, before) {
            (_, 0) => output::NEW,
            (0, _) => output::GONE,
            (n, b) if n > b => output::GROWN,
            (n, b) if n < b => output::SHRUNK,
            _ => output::UNCHANGED,
        };
        DiffRow {
            pattern,
            severity,
            now,
            before,
            change_type,
        }
    }

    fn change_percent(&self) -> Option<f64> {
        (self.before > 0).then(|| (self.now - self.before) as f64 * 100.0 / self.before as f64)
    }

    /// New patterns first (most lines first), then grown ones (most added first), then the
    /// rest by how much they changed; ties by pattern text.
    fn rank_key(&self) -> (u8, i64, String) {
        let class = match self.change_type {
            output::NEW => 0,
            output::GROWN => 1,
            output::UNCHANGED => 2,
            output::SHRUNK => 3,
            _ => 4,
        };
        let weight = if class == 0 {
            -self.now
        } else {
            -(self.now - self.before)
        };
        (class, weight, self.pattern.clone())
    }
}

/// The window `diff` compares `window` with.
fn baseline(window: Window, period: DiffPeriod) -> Option<Window> {
    const DAY: i64 = 86_400_000_000;
    let shift = |us: i64| Window {
        start_us: window.start_us - us,
        end_us: window.end_us - us,
    };
    Some(match period {
        DiffPeriod::Previous => window.preceding(),
        DiffPeriod::Day => shift(DAY),
        DiffPeriod::Week => shift(7 * DAY),
        DiffPeriod::Month => {
            let back = |us: i64| {
                DateTime::from_timestamp_micros(us)?
                    .checked_sub_months(Months::new(1))
                    .map(|t| t.timestamp_micros())
            };
            Window {
                start_us: back(window.start_us)?,
                end_us: back(window.end_us)?,
            }
        }
    })
}

/// The JSON document and path a dotted field name reads: the longest leading part that is a
/// text column, else `@message`; numeric parts index arrays.
fn json_target(schema: &DFSchema, name: &str) -> (Expr, Vec<Expr>) {
    let parts: Vec<&str> = name.split('.').collect();
    let (base, rest) = (1..parts.len())
        .rev()
        .map(|k| (parts[..k].join("."), &parts[k..]))
        .find(|(prefix, _)| {
            schema
                .field_with_unqualified_name(prefix)
                .is_ok_and(|f| is_text(f.data_type()))
        })
        .map_or((field::MESSAGE.to_string(), &parts[..]), |(p, r)| (p, r));
    let path = rest
        .iter()
        .map(|p| match p.parse::<i64>() {
            Ok(i) => lit(i),
            Err(_) => lit(*p),
        })
        .collect();
    (ident(base), path)
}

fn interval(p: Period) -> Expr {
    lit(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(0, 0, p.micros * 1000),
    )))
}

/// `ts` rounded down to a multiple of `p` since the epoch.
fn floor_to(p: Period, ts: Expr) -> Expr {
    f::date_bin(interval(p), ts, source::timestamp(0))
}

/// A regular expression for a `parse` glob: `*` captures as little as it can, except at the
/// end, where it takes the rest of the line.
fn glob_regex(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        out.push_str(&regex::escape(part));
        if i + 1 < parts.len() {
            let last = i + 2 == parts.len() && parts[i + 1].is_empty();
            out.push_str(if last { "(.*)" } else { "(.*?)" });
        }
    }
    out
}

/// Whether `name` is an aggregate, one hopscope runs or not.
fn is_aggregate(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    AGGREGATES.contains(&lower.as_str()) || UNSUPPORTED_AGGREGATES.contains(&lower.as_str())
}

fn has_column(schema: &DFSchema, name: &str) -> bool {
    schema.has_column_with_unqualified_name(name)
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_text(v))
}

fn strings<'s>(values: impl Iterator<Item = Option<&'s str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn batch_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !n.starts_with("__"))
        .collect()
}

fn cast_to_strings(column: &ArrayRef) -> Result<StringArray> {
    let utf8 =
        datafusion::arrow::compute::cast(column, &DataType::Utf8).map_err(DataFusionError::from)?;
    Ok(utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray")
        .clone())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(
        "user=*, method:*, latency := *",
        r"user=(.*?), method:(.*?), latency := (.*)"
    )]
    #[case("[*] *.", r"\[(.*?)\] (.*?)\.")]
    fn globs_become_regular_expressions(#[case] glob: &str, #[case] want: &str) {
        assert_eq!(glob_regex(glob), want);
    }

    #[test]
    fn the_baseline_of_a_month_is_the_same_time_a_calendar_month_before() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        let w = Window {
            start_us: at("2026-03-31T10:00:00Z"),
            end_us: at("2026-03-31T11:00:00Z"),
        };
        let b = baseline(w, DiffPeriod::Month).unwrap();
        assert_eq!(b.start_us, at("2026-02-28T10:00:00Z"));
        assert_eq!(
            baseline(w, DiffPeriod::Previous).unwrap().end_us,
            w.start_us
        );
        assert_eq!(
            baseline(w, DiffPeriod::Day).unwrap().start_us,
            at("2026-03-30T10:00:00Z")
        );
    }
}
