//! A parsed query: commands in pipe order, expressions with the span they were written at.

use super::lexer::{Period, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub kind: CommandKind,
    /// Where the command's name is.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// `fields a, b + 1 as c`: computes fields and chooses them for display.
    Fields(Vec<Projection>),
    /// `display a, b`: the fields shown, nothing else.
    Display(Vec<Projection>),
    Filter(Expr),
    Stats {
        items: Vec<Projection>,
        by: Vec<Projection>,
    },
    Sort(Vec<SortKey>),
    Limit(u64),
    Dedup(Vec<Expr>),
    Parse {
        source: Expr,
        pattern: ParsePattern,
        /// `as` names, for the glob form (the regex form names its groups).
        names: Vec<(String, Span)>,
    },
    Unnest {
        source: Expr,
        into: String,
    },
    Pattern(Expr),
    Diff(DiffPeriod),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    Glob(String, Span),
    Regex(String, Span),
}

/// What `diff` compares the window with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffPeriod {
    /// The window of the same length just before.
    Previous,
    Day,
    Week,
    Month,
}

/// An expression with an optional `as` name. `text` is how it was written, white space
/// collapsed: the column's name when there is no alias, as Logs Insights names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub expr: Expr,
    pub alias: Option<String>,
    pub text: String,
}

impl Projection {
    pub fn name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub text: String,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Field(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Period(Period),
    /// `*`, as in `count(*)`.
    Star,
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Match {
        expr: Box<Expr>,
        pattern: MatchPattern,
        /// Where the pattern is, for errors in a regular expression.
        pattern_span: Span,
        negated: bool,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

/// The right side of `like` / `=~`: a substring in quotes or a regular expression in slashes.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchPattern {
    Substring(String),
    Regex(String),
}
