//! Tokens -> [`Query`]: a recursive-descent parser of the Logs Insights query language.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`= != < <= > >=`, `like`, `=~`,
//! `in`), `+ -`, `* / %`, `^` (right-associative), unary `-`.

use super::ast::{
    BinOp, Command, CommandKind, DiffPeriod, Expr, ExprKind, MatchPattern, ParsePattern,
    Projection, Query, SortKey,
};
use super::error::QueryError;
use super::lexer::{Lexer, Span, Tok, Token};

/// The commands hopscope runs, as the refusal of any other names them.
pub const COMMANDS: &str =
    "fields, display, filter, stats, sort, limit, dedup, parse, unnest, pattern and diff";

/// Logs Insights commands hopscope knows of but does not run.
const UNSUPPORTED: [&str; 9] = [
    "head",
    "tail",
    "lookup",
    "join",
    "anomaly",
    "unmask",
    "filterindex",
    "source",
    "fieldindex",
];

/// Words that end or join expressions, so never a field name without backticks.
const KEYWORDS: [&str; 10] = [
    "and", "or", "not", "like", "in", "as", "by", "asc", "desc", "into",
];

pub fn parse(src: &str) -> Result<Query, QueryError> {
    let mut p = Parser {
        lexer: Lexer::new(src),
        peeked: None,
        prev: None,
    };
    let mut commands = Vec::new();
    loop {
        commands.push(p.command()?);
        let t = p.peek()?;
        match &t.tok {
            Tok::Eof => break,
            Tok::Sym("|") => {
                p.bump()?;
            }
            _ => return Err(p.expected("'|' or the end of the query")),
        }
    }
    Ok(Query { commands })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    prev: Option<Token>,
}

fn is_word(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, QueryError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next(false)?);
        }
        Ok(self.peeked.as_ref().expect("just peeked"))
    }

    /// The next token where a pattern may stand: a `/` starts a regular expression.
    fn peek_pattern(&mut self) -> Result<&Token, QueryError> {
        if let Some(t) = &self.peeked {
            if t.tok != Tok::Sym("/") {
                return Ok(self.peeked.as_ref().expect("just checked"));
            }
            self.lexer.rewind(t.span.start);
        }
        self.peeked = Some(self.lexer.next(true)?);
        Ok(self.peeked.as_ref().expect("just peeked"))
    }

    fn bump(&mut self) -> Result<Token, QueryError> {
        self.peek()?;
        let t = self.peeked.take().expect("just peeked");
        self.prev = Some(t.clone());
        Ok(t)
    }

    fn eat_word(&mut self, word: &str) -> Result<bool, QueryError> {
        if is_word(&self.peek()?.tok, word) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn eat_sym(&mut self, sym: &'static str) -> Result<bool, QueryError> {
        if self.peek()?.tok == Tok::Sym(sym) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn text(&self, span: Span) -> &str {
        &self.lexer.src()[span.start..span.end]
    }

    /// `expected {what} after '{previous token}', found {next token}`, at the next token.
    fn expected(&self, what: &str) -> QueryError {
        let (at, found) = match &self.peeked {
            Some(t) => (t.span.start, t.tok.describe()),
            None => (self.lexer.src().len(), Tok::Eof.describe()),
        };
        let after = self
            .prev
            .as_ref()
            .map(|p| format!(" after '{}'", self.text(p.span)))
            .unwrap_or_default();
        QueryError::at(
            self.lexer.src(),
            at,
            format!("expected {what}{after}, found {found}"),
        )
    }

    fn error_at(&self, span: Span, message: impl Into<String>) -> QueryError {
        QueryError::at(self.lexer.src(), span.start, message)
    }

    fn command(&mut self) -> Result<Command, QueryError> {
        self.peek()?;
        let token = self.bump()?;
        let Tok::Word(name) = &token.tok else {
            self.peeked = Some(token.clone());
            self.prev = None;
            return Err(self.expected("a command"));
        };
        let span = token.span;
        let kind = match name.to_ascii_lowercase().as_str() {
            "fields" => CommandKind::Fields(self.projections("a field or expression")?),
            "display" => CommandKind::Display(self.projections("a field name")?),
            "filter" => CommandKind::Filter(self.expr()?),
            "stats" => {
                let items = self.projections("an aggregate such as count(*)")?;
                let by = if self.eat_word("by")? {
                    self.projections("a field name")?
                } else {
                    Vec::new()
                };
                CommandKind::Stats { items, by }
            }
            "sort" => {
                self.eat_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_sym(",")? {
                    keys.push(self.sort_key()?);
                }
                CommandKind::Sort(keys)
            }
            "limit" => match self.peek()?.tok {
                Tok::Int(n) if n > 0 => {
                    self.bump()?;
                    CommandKind::Limit(n as u64)
                }
                _ => return Err(self.expected("a number of rows greater than 0")),
            },
            "dedup" => {
                let mut fields = vec![self.expr()?];
                while self.eat_sym(",")? {
                    fields.push(self.expr()?);
                }
                CommandKind::Dedup(fields)
            }
            "parse" => self.parse_command()?,
            "unnest" => {
                let source = self.expr()?;
                if !self.eat_word("into")? {
                    return Err(self.expected("'into' and a field name"));
                }
                let (into, _) = self.name()?;
                CommandKind::Unnest { source, into }
            }
            "pattern" => CommandKind::Pattern(self.expr()?),
            "diff" => {
                let period = match &self.peek()?.tok {
                    Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                        "previousday" => Some(DiffPeriod::Day),
                        "previousweek" => Some(DiffPeriod::Week),
                        "previousmonth" => Some(DiffPeriod::Month),
                        _ => None,
                    },
                    _ => None,
                };
                match period {
                    Some(p) => {
                        self.bump()?;
                        CommandKind::Diff(p)
                    }
                    None => CommandKind::Diff(DiffPeriod::Previous),
                }
            }
            other if UNSUPPORTED.contains(&other) => {
                return Err(self.error_at(
                    span,
                    format!("'{name}' is a Logs Insights command hopscope does not run; it runs {COMMANDS}"),
                ));
            }
            _ => {
                return Err(self.error_at(
                    span,
                    format!("unknown command '{name}'; hopscope runs {COMMANDS}"),
                ));
            }
        };
        Ok(Command { kind, span })
    }

    fn parse_command(&mut self) -> Result<CommandKind, QueryError> {
        // A field or a call, not an expression: the `/` of a regex would divide it.
        let source = self.primary()?;
        let t = self.peek_pattern()?.clone();
        let pattern = match t.tok {
            Tok::Str(glob) => ParsePattern::Glob(glob, t.span),
            Tok::Regex(re) => ParsePattern::Regex(re, t.span),
            _ => {
                return Err(self.expected(
                    "a pattern: a glob in quotes (\"user=*\") or a regular expression in slashes",
                ));
            }
        };
        self.bump()?;
        let mut names = Vec::new();
        if self.eat_word("as")? {
            names.push(self.name()?);
            while self.eat_sym(",")? {
                names.push(self.name()?);
            }
        }
        Ok(CommandKind::Parse {
            source,
            pattern,
            names,
        })
    }

    fn name(&mut self) -> Result<(String, Span), QueryError> {
        let t = self.peek()?.clone();
        match t.tok {
            Tok::Word(w) if !KEYWORDS.contains(&w.to_ascii_lowercase().as_str()) => {
                self.bump()?;
                Ok((w, t.span))
            }
            Tok::Quoted(w) => {
                self.bump()?;
                Ok((w, t.span))
            }
            _ => Err(self.expected("a field name")),
        }
    }

    fn projections(&mut self, what: &str) -> Result<Vec<Projection>, QueryError> {
        let mut out = vec![self.projection(what)?];
        while self.eat_sym(",")? {
            out.push(self.projection(what)?);
        }
        Ok(out)
    }

    fn projection(&mut self, what: &str) -> Result<Projection, QueryError> {
        if !self.starts_expr()? {
            return Err(self.expected(what));
        }
        let expr = self.expr()?;
        let text = self.name_of(&expr);
        let alias = if self.eat_word("as")? {
            Some(self.name()?.0)
        } else {
            None
        };
        Ok(Projection { expr, alias, text })
    }

    fn sort_key(&mut self) -> Result<SortKey, QueryError> {
        if !self.starts_expr()? {
            return Err(self.expected("a field to sort by"));
        }
        let expr = self.expr()?;
        let text = self.name_of(&expr);
        let descending = if self.eat_word("desc")? {
            true
        } else {
            self.eat_word("asc")?;
            false
        };
        Ok(SortKey {
            expr,
            text,
            descending,
        })
    }

    /// The column name of an expression written without `as`: a field's own name (without
    /// backticks), else the text as written.
    fn name_of(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Field(name) => name.clone(),
            _ => normalize(self.text(expr.span)),
        }
    }

    /// Whether the next token can start an expression.
    fn starts_expr(&mut self) -> Result<bool, QueryError> {
        Ok(match &self.peek()?.tok {
            Tok::Word(w) => {
                !KEYWORDS.contains(&w.to_ascii_lowercase().as_str())
                    || w.eq_ignore_ascii_case("not")
            }
            Tok::Sym(s) => matches!(*s, "(" | "-" | "*"),
            Tok::Eof => false,
            _ => true,
        })
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and_expr()?;
        while self.eat_word("or")? {
            let right = self.and_expr()?;
            left = binary(BinOp::Or, left, right);
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not_expr()?;
        while self.eat_word("and")? {
            let right = self.not_expr()?;
            left = binary(BinOp::And, left, right);
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, QueryError> {
        let start = self.peek()?.span;
        if self.eat_word("not")? {
            let inner = self.not_expr()?;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.additive()?;
        let op = match &self.peek()?.tok {
            Tok::Sym("=" | "==") => Some(BinOp::Eq),
            Tok::Sym("!=" | "<>") => Some(BinOp::NotEq),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::LtEq),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::GtEq),
            _ => None,
        };
        if let Some(op) = op {
            self.bump()?;
            let right = self.additive()?;
            return Ok(binary(op, left, right));
        }
        if self.eat_sym("=~")? {
            return self.match_rest(left, false);
        }
        let negated = self.eat_word("not")?;
        if self.eat_word("like")? {
            return self.match_rest(left, negated);
        }
        if self.eat_word("in")? {
            return self.in_rest(left, negated);
        }
        if negated {
            return Err(self.expected("'like' or 'in'"));
        }
        Ok(left)
    }

    fn match_rest(&mut self, left: Expr, negated: bool) -> Result<Expr, QueryError> {
        let t = self.peek_pattern()?.clone();
        let pattern = match t.tok {
            Tok::Str(s) => MatchPattern::Substring(s),
            Tok::Regex(r) => MatchPattern::Regex(r),
            _ => {
                return Err(self.expected(
                    "a string in quotes or a regular expression in slashes (/Exception/)",
                ));
            }
        };
        self.bump()?;
        let span = left.span.to(t.span);
        Ok(Expr {
            kind: ExprKind::Match {
                expr: Box::new(left),
                pattern,
                pattern_span: t.span,
                negated,
            },
            span,
        })
    }

    fn in_rest(&mut self, left: Expr, negated: bool) -> Result<Expr, QueryError> {
        let close = if self.eat_sym("[")? {
            "]"
        } else if self.eat_sym("(")? {
            ")"
        } else {
            return Err(self.expected("a list in brackets, such as [\"a\", \"b\"]"));
        };
        let mut list = Vec::new();
        if !self.eat_sym(close)? {
            loop {
                list.push(self.additive()?);
                if self.eat_sym(close)? {
                    break;
                }
                if !self.eat_sym(",")? {
                    return Err(self.expected(&format!("',' or '{close}'")));
                }
            }
        }
        let end = self.prev.as_ref().map_or(left.span, |t| t.span);
        let span = left.span.to(end);
        Ok(Expr {
            kind: ExprKind::In {
                expr: Box::new(left),
                list,
                negated,
            },
            span,
        })
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Sym("+") => BinOp::Add,
                Tok::Sym("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump()?;
            let right = self.multiplicative()?;
            left = binary(op, left, right);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.power()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Sym("*") => BinOp::Mul,
                Tok::Sym("/") => BinOp::Div,
                Tok::Sym("%") => BinOp::Rem,
                _ => return Ok(left),
            };
            self.bump()?;
            let right = self.power()?;
            left = binary(op, left, right);
        }
    }

    fn power(&mut self) -> Result<Expr, QueryError> {
        let base = self.unary()?;
        if self.eat_sym("^")? {
            let exponent = self.power()?;
            return Ok(binary(BinOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let start = self.peek()?.span;
        if self.eat_sym("-")? {
            let inner = self.unary()?;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(inner)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let t = self.peek()?.clone();
        let kind = match t.tok {
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Period(p) => ExprKind::Period(p),
            Tok::Quoted(name) => ExprKind::Field(name),
            Tok::Sym("*") => ExprKind::Star,
            Tok::Sym("(") => {
                self.bump()?;
                let mut inner = self.expr()?;
                if !self.eat_sym(")")? {
                    return Err(self.expected("')'"));
                }
                let end = self.prev.as_ref().map_or(inner.span, |p| p.span);
                inner.span = t.span.to(end);
                return Ok(inner);
            }
            Tok::Word(w) => {
                let lower = w.to_ascii_lowercase();
                if KEYWORDS.contains(&lower.as_str()) {
                    return Err(self.expected("a field or value"));
                }
                self.bump()?;
                if self.peek()?.tok == Tok::Sym("(") {
                    return self.call(w, t.span);
                }
                let kind = match lower.as_str() {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    "null" => ExprKind::Null,
                    _ => ExprKind::Field(w),
                };
                return Ok(Expr { kind, span: t.span });
            }
            _ => return Err(self.expected("a field or value")),
        };
        self.bump()?;
        Ok(Expr { kind, span: t.span })
    }

    fn call(&mut self, name: String, start: Span) -> Result<Expr, QueryError> {
        self.bump()?; // (
        let mut args = Vec::new();
        if !self.eat_sym(")")? {
            loop {
                args.push(self.expr()?);
                if self.eat_sym(")")? {
                    break;
                }
                if !self.eat_sym(",")? {
                    return Err(self.expected("',' or ')'"));
                }
            }
        }
        let end = self.prev.as_ref().map_or(start, |p| p.span);
        Ok(Expr {
            kind: ExprKind::Call { name, args },
            span: start.to(end),
        })
    }
}

fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
    let span = left.span.to(right.span);
    Expr {
        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
        span,
    }
}

/// Text as a column name: white space runs collapsed to one space.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn parses_a_lambda_sample_query() {
        let q = parse(
            "filter @type = \"REPORT\"\n| stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n    avg(@duration) by bin(5m)",
        )
        .unwrap();
        assert_eq!(q.commands.len(), 2);
        let CommandKind::Stats { items, by } = &q.commands[1].kind else {
            panic!("{q:?}");
        };
        assert_eq!(items[0].name(), "provisonedMemoryMB");
        assert_eq!(items[1].name(), "avg(@duration)");
        assert_eq!(by[0].name(), "bin(5m)");
    }

    #[test]
    fn precedence_binds_and_tighter_than_or_and_comparisons_tighter_than_not() {
        let q = parse("filter a = 1 or not b like /x/ and c in [1, 2]").unwrap();
        let CommandKind::Filter(e) = &q.commands[0].kind else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Or, _, right) = &e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Binary(BinOp::And, not, _) = &right.kind else {
            panic!("{right:?}")
        };
        assert!(matches!(not.kind, ExprKind::Not(_)), "{not:?}");
    }

    #[test]
    fn a_slash_divides_in_expressions_and_delimits_patterns() {
        let q =
            parse("fields a / 2 | filter @message like /a\\/b/ | parse @message /x=(?<x>\\d+)/")
                .unwrap();
        assert!(matches!(
            &q.commands[0].kind,
            CommandKind::Fields(p) if matches!(p[0].expr.kind, ExprKind::Binary(BinOp::Div, _, _))
        ));
        let CommandKind::Filter(Expr {
            kind: ExprKind::Match { pattern, .. },
            ..
        }) = &q.commands[1].kind
        else {
            panic!()
        };
        assert_eq!(pattern, &MatchPattern::Regex("a/b".into()));
        assert!(matches!(
            &q.commands[2].kind,
            CommandKind::Parse { pattern: ParsePattern::Regex(r, _), .. } if r == "x=(?<x>\\d+)"
        ));
    }

    #[rstest]
    #[case(
        "stats count(*) by",
        "line 1, column 18: expected a field name after 'by', found the end of the query"
    )]
    #[case(
        "fields @timestamp\n| stats count(*) by |",
        "line 2, column 21: expected a field name after 'by', found '|'"
    )]
    #[case(
        "filter a = ",
        "line 1, column 12: expected a field or value after '=', found the end of the query"
    )]
    #[case(
        "fields a b",
        "line 1, column 10: expected '|' or the end of the query after 'a', found 'b'"
    )]
    #[case(
        "limit 0",
        "line 1, column 7: expected a number of rows greater than 0 after 'limit', found the number 0"
    )]
    #[case(
        "filter a not b",
        "line 1, column 14: expected 'like' or 'in' after 'not', found 'b'"
    )]
    #[case(
        "  lookup t key",
        "line 1, column 3: 'lookup' is a Logs Insights command hopscope does not run; it runs fields, display, filter, stats, sort, limit, dedup, parse, unnest, pattern and diff"
    )]
    #[case(
        "fields a | grep x",
        "line 1, column 12: unknown command 'grep'; hopscope runs fields, display, filter, stats, sort, limit, dedup, parse, unnest, pattern and diff"
    )]
    #[case(
        "parse @message as a",
        "line 1, column 16: expected a pattern: a glob in quotes (\"user=*\") or a regular expression in slashes after '@message', found 'as'"
    )]
    #[case("| fields a", "line 1, column 1: expected a command, found '|'")]
    fn errors_say_where_and_what_was_expected(#[case] src: &str, #[case] want: &str) {
        assert_eq!(parse(src).unwrap_err().to_string(), want);
    }
}
