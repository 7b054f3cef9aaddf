//! Composite rules: CloudWatch's alarm rule syntax over other rules' states.
//!
//! `ALARM(name)`, `OK(name)`, `INSUFFICIENT_DATA(name)`, `TRUE`, `FALSE`, combined with `AND`,
//! `OR`, `NOT` and parentheses (`NOT` binds tightest, then `AND`, then `OR`). A composite rule
//! is in ALARM while its expression is true, else OK.

use super::eval::State;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Is(State, String),
    Const(bool),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Parses an alarm rule; the error says what was expected where (character offset).
    pub fn parse(text: &str) -> Result<Expr, (usize, String)> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, at: 0 };
        let e = p.or()?;
        match p.tokens.get(p.at) {
            None => Ok(e),
            Some((pos, t)) => Err((*pos, format!("unexpected {t:?} after a complete rule"))),
        }
    }

    /// Every rule name referenced.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Is(_, n) => out.push(n),
            Expr::Const(_) => {}
            Expr::Not(e) => e.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates with `state(name)` giving each referenced rule's state.
    pub fn eval(&self, state: &dyn Fn(&str) -> State) -> bool {
        match self {
            Expr::Is(s, n) => state(n) == *s,
            Expr::Const(b) => *b,
            Expr::Not(e) => !e.eval(state),
            Expr::And(a, b) => a.eval(state) && b.eval(state),
            Expr::Or(a, b) => a.eval(state) || b.eval(state),
        }
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = |e: &Expr, f: &mut std::fmt::Formatter<'_>| match e {
            Expr::And(..) | Expr::Or(..) => write!(f, "({e})"),
            _ => write!(f, "{e}"),
        };
        match self {
            Expr::Is(s, n) => write!(f, "{s}({n})"),
            Expr::Const(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Not(e) => {
                f.write_str("NOT ")?;
                group(e, f)
            }
            Expr::And(a, b) => {
                group(a, f)?;
                f.write_str(" AND ")?;
                group(b, f)
            }
            Expr::Or(a, b) => write!(f, "{a} OR {b}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            out.push((i, Token::Open));
            chars.next();
        } else if c == ')' {
            out.push((i, Token::Close));
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, c)) => word.push(c),
                    None => return Err((i, "unterminated quoted name".into())),
                }
            }
            out.push((i, Token::Word(word)));
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push((i, Token::Word(word)));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
}

impl Parser {
    fn keyword(&self, k: &str) -> bool {
        matches!(self.tokens.get(self.at), Some((_, Token::Word(w))) if w == k)
    }

    fn end(&self) -> usize {
        self.tokens.last().map_or(0, |(p, _)| p + 1)
    }

    fn or(&mut self) -> Result<Expr, (usize, String)> {
        let mut e = self.and()?;
        while self.keyword("OR") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, (usize, String)> {
        let mut e = self.not()?;
        while self.keyword("AND") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, (usize, String)> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, (usize, String)> {
        let Some((pos, token)) = self.tokens.get(self.at).cloned() else {
            return Err((
                self.end(),
                "expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE or (".into(),
            ));
        };
        self.at += 1;
        match token {
            Token::Open => {
                let e = self.or()?;
                match self.tokens.get(self.at) {
                    Some((_, Token::Close)) => {
                        self.at += 1;
                        Ok(e)
                    }
                    _ => Err((pos, "unclosed (".into())),
                }
            }
            Token::Close => Err((pos, "unexpected )".into())),
            Token::Word(w) => {
                let state = match w.as_str() {
                    "TRUE" => return Ok(Expr::Const(true)),
                    "FALSE" => return Ok(Expr::Const(false)),
                    "ALARM" => State::Alarm,
                    "OK" => State::Ok,
                    "INSUFFICIENT_DATA" => State::InsufficientData,
                    other => {
                        return Err((
                            pos,
                            format!(
                                "unknown word {other:?}: expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, AND, OR, NOT"
                            ),
                        ));
                    }
                };
                let name = match (
                    self.tokens.get(self.at),
                    self.tokens.get(self.at + 1),
                    self.tokens.get(self.at + 2),
                ) {
                    (
                        Some((_, Token::Open)),
                        Some((_, Token::Word(n))),
                        Some((_, Token::Close)),
                    ) => n.clone(),
                    _ => return Err((pos, format!("expected {w}(rule-name)"))),
                };
                self.at += 3;
                Ok(Expr::Is(state, name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates_with_precedence() {
        let e = Expr::parse("ALARM(a) OR ALARM(b) AND NOT ALARM(c)").unwrap();
        assert_eq!(e.names(), ["a", "b", "c"]);
        let states = |alarms: &'static [&'static str]| {
            move |n: &str| {
                if alarms.contains(&n) {
                    State::Alarm
                } else {
                    State::Ok
                }
            }
        };
        assert!(e.eval(&states(&["a"])));
        assert!(e.eval(&states(&["b"])));
        assert!(!e.eval(&states(&["b", "c"])));
        assert!(!e.eval(&states(&[])));
        let e = Expr::parse("(ALARM(a) OR ALARM(b)) AND NOT OK(\"c d\")").unwrap();
        assert!(!e.eval(&states(&["a"])));
        assert!(e.eval(&|n| if n == "c d" {
            State::InsufficientData
        } else {
            State::Alarm
        }));
        assert_eq!(Expr::parse("TRUE").unwrap(), Expr::Const(true));
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(Expr::parse("ALARM(a) AND").unwrap_err().0, 10);
        assert!(
            Expr::parse("ALARMS(a)")
                .unwrap_err()
                .1
                .contains("unknown word")
        );
        assert!(Expr::parse("(ALARM(a)").unwrap_err().1.contains("unclosed"));
        assert!(
            Expr::parse("ALARM(a) ALARM(b)")
                .unwrap_err()
                .1
                .contains("after a complete")
        );
        assert!(
            Expr::parse("ALARM a")
                .unwrap_err()
                .1
                .contains("expected ALARM(rule-name)")
        );
    }
}
