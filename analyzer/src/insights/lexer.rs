//! Query text -> tokens, each with its byte span for error positions.
//!
//! A `/` starts a regular expression only where the parser asks for a pattern (after `like`,
//! `=~`, or a `parse` field); everywhere else it divides. So the parser pulls tokens one at a
//! time and says which kind it expects.

use super::error::QueryError;

/// Byte offsets `[start, end)` into the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end,
        }
    }
}

/// A length of time as written in `bin(5m)`, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub micros: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A field name, command or keyword as written (`@message`, `record.status`, `stats`).
    Word(String),
    /// A backtick-quoted field name: never a keyword.
    Quoted(String),
    Str(String),
    Regex(String),
    Int(i64),
    Float(f64),
    Period(Period),
    /// Punctuation and operators: `| , ( ) [ ] = == != <> < <= > >= =~ + - * / % ^`.
    Sym(&'static str),
    Eof,
}

impl Tok {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Quoted(w) => format!("`{w}`"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Regex(r) => format!("the pattern /{r}/"),
            Tok::Int(i) => format!("the number {i}"),
            Tok::Float(f) => format!("the number {f}"),
            Tok::Period(_) => "a time period".to_string(),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "the end of the query".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

const SYMBOLS: [&str; 21] = [
    "==", "!=", "<>", "<=", ">=", "=~", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*",
    "/", "%", "^",
];

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    /// Moves back to `pos` (the start of a token read in the wrong mode).
    pub fn rewind(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn error(&self, start: usize, message: impl Into<String>) -> QueryError {
        QueryError::at(self.src, start, message)
    }

    /// Skips white space and `#` comments.
    fn skip_blank(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with('#') {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    /// The next token; with `pattern`, a `/` starts a regular expression.
    pub fn next(&mut self, pattern: bool) -> Result<Token, QueryError> {
        self.skip_blank();
        let start = self.pos;
        let Some(c) = self.rest().chars().next() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: Span { start, end: start },
            });
        };
        let tok = match c {
            '"' | '\'' => Tok::Str(self.quoted(c)?),
            '`' => Tok::Quoted(self.backticked()?),
            '/' if pattern => Tok::Regex(self.regex()?),
            c if c.is_ascii_digit() => self.number()?,
            c if is_word_start(c) => {
                let len = self
                    .rest()
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(self.rest().len());
                let word = &self.rest()[..len];
                self.pos += len;
                Tok::Word(word.to_string())
            }
            _ => {
                let Some(sym) = SYMBOLS.iter().find(|s| self.rest().starts_with(**s)) else {
                    return Err(self.error(start, format!("unexpected character '{c}'")));
                };
                self.pos += sym.len();
                Tok::Sym(sym)
            }
        };
        Ok(Token {
            tok,
            span: Span {
                start,
                end: self.pos,
            },
        })
    }

    /// A string in `quote`s; backslash escapes `\n`, `\t`, `\\` and the quote.
    fn quoted(&mut self, quote: char) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.error(start, format!("this string has no closing {quote}")))
    }

    fn backticked(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let rest = &self.rest()[1..];
        let Some(end) = rest.find('`') else {
            return Err(self.error(start, "this field name has no closing `"));
        };
        let name = rest[..end].to_string();
        self.pos += end + 2;
        Ok(name)
    }

    /// `/.../`: the text between the slashes, with `\/` unescaped (every other escape is the
    /// regular expression's own).
    fn regex(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '/' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '/')) => out.push('/'),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.error(start, "this regular expression has no closing /"))
    }

    /// A number, or a period when a time unit follows it at once (`5m`, `1h`, `500ms`).
    fn number(&mut self) -> Result<Tok, QueryError> {
        let start = self.pos;
        let rest = self.rest();
        let mut len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let fraction = rest[len..].starts_with('.')
            && rest[len + 1..].starts_with(|c: char| c.is_ascii_digit());
        if fraction {
            len += 1 + rest[len + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - len - 1);
        }
        let digits = &rest[..len];
        let unit_len = rest[len..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len() - len);
        let unit = &rest[len..len + unit_len];
        self.pos += len + unit_len;
        if unit.is_empty() {
            return Ok(if fraction {
                Tok::Float(
                    digits
                        .parse()
                        .map_err(|_| self.error(start, "bad number"))?,
                )
            } else {
                match digits.parse() {
                    Ok(i) => Tok::Int(i),
                    Err(_) => Tok::Float(
                        digits
                            .parse()
                            .map_err(|_| self.error(start, "bad number"))?,
                    ),
                }
            });
        }
        let per_unit: i64 = match unit {
            "ms" => 1_000,
            "s" | "sec" => 1_000_000,
            "m" | "min" => 60_000_000,
            "h" | "hr" => 3_600_000_000,
            "d" => 86_400_000_000,
            "w" => 7 * 86_400_000_000,
            "mo" | "q" | "y" => {
                return Err(self.error(
                    start,
                    format!("'{digits}{unit}': months, quarters and years have no fixed length; use d or w"),
                ));
            }
            _ => {
                return Err(self.error(
                    start,
                    format!("'{digits}{unit}': expected a number, or a time period such as 5m (units: ms, s, m, h, d, w)"),
                ));
            }
        };
        if fraction {
            return Err(self.error(start, "a time period takes a whole number (90s, not 1.5m)"));
        }
        let amount: i64 = digits
            .parse()
            .map_err(|_| self.error(start, "time period too long"))?;
        let micros = amount
            .checked_mul(per_unit)
            .filter(|m| *m > 0)
            .ok_or_else(|| {
                self.error(
                    start,
                    "a time period must be longer than zero and shorter than 290,000 years",
                )
            })?;
        Ok(Tok::Period(Period { micros }))
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@' || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | '.')
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn tokens(src: &str, pattern: bool) -> Vec<Tok> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lexer.next(pattern).unwrap().tok;
            if t == Tok::Eof {
                return out;
            }
            out.push(t);
        }
    }

    #[rstest]
    #[case("fields @timestamp, record.status", vec![
        Tok::Word("fields".into()), Tok::Word("@timestamp".into()), Tok::Sym(","),
        Tok::Word("record.status".into())])]
    #[case("a>=2.5 # a comment\n| b != 'x\\'y'", vec![
        Tok::Word("a".into()), Tok::Sym(">="), Tok::Float(2.5), Tok::Sym("|"),
        Tok::Word("b".into()), Tok::Sym("!="), Tok::Str("x'y".into())])]
    #[case("bin(5m) `foo-bar` 500ms", vec![
        Tok::Word("bin".into()), Tok::Sym("("), Tok::Period(Period { micros: 300_000_000 }),
        Tok::Sym(")"), Tok::Quoted("foo-bar".into()), Tok::Period(Period { micros: 500_000 })])]
    #[case("x / 2", vec![Tok::Word("x".into()), Tok::Sym("/"), Tok::Int(2)])]
    fn reads_tokens(#[case] src: &str, #[case] want: Vec<Tok>) {
        assert_eq!(tokens(src, false), want);
    }

    #[test]
    fn reads_a_regex_only_where_a_pattern_is_expected() {
        assert_eq!(
            tokens(r"/a\/b\d+/", true),
            vec![Tok::Regex(r"a/b\d+".into())]
        );
    }

    #[rstest]
    #[case("\"open", "line 1, column 1: this string has no closing \"")]
    #[case(
        "x\n  | 3x",
        "line 2, column 5: '3x': expected a number, or a time period such as 5m (units: ms, s, m, h, d, w)"
    )]
    #[case("a ; b", "line 1, column 3: unexpected character ';'")]
    #[case(
        "bin(1mo)",
        "line 1, column 5: '1mo': months, quarters and years have no fixed length; use d or w"
    )]
    fn says_where_the_text_is_wrong(#[case] src: &str, #[case] want: &str) {
        let mut lexer = Lexer::new(src);
        let err = loop {
            match lexer.next(false) {
                Ok(t) if t.tok == Tok::Eof => panic!("no error in {src:?}"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(err.to_string(), want);
    }
}
