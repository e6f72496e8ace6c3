//! The lexer: query text -> [`Token`]s, each with its 1-based character
//! column, so every error can point at where it happened.
//!
//! It follows Tempo's lexer (`pkg/traceql/lexer.go`, checked against the
//! grafana/tempo source): attribute names are context-sensitive, so after
//! `.`, `span.`, `resource.` (and the scopes refused later: `parent.`,
//! `event.`, `link.`, `instrumentation.`) everything up to whitespace or one
//! of `{}()=~!<>&|^,` is the name (`span.http.status_code`, `.foo-bar`),
//! with `"quoted parts"` for names holding those characters. A number
//! directly followed by duration units is a duration (`100ms`, `1.5s`,
//! `1h30m`, `2µs`; Go's and Prometheus's units: ns us µs ms s m h d w y).
//! Operators are matched longest first (`!>>` before `!>` before `!`).

use super::QueryError;

/// One lexed token and the column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// 1-based, in characters.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A string literal, escapes resolved (`"a\"b"`, `` `raw` ``).
    Str(String),
    Int(i64),
    Float(f64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// A word: a keyword (`name`, `ok`, `count`, ...) or an unknown identifier.
    Ident(String),
    /// `span.key`, `resource.key`, `.key`, ...: the scope as written
    /// (empty for `.key`) and the attribute's name, quotes resolved.
    Attribute {
        scope: String,
        name: String,
    },
    /// `span:`, `trace:`, ...: the scope of the intrinsic that follows.
    ScopeColon(String),
    /// An operator or punctuation, as written.
    Op(&'static str),
    /// The end of the query.
    End,
}

/// Operators and punctuation, longest first so that matching the first
/// prefix finds the longest token.
const OPERATORS: &[&str] = &[
    "!>>", "!<<", "&>>", "&<<", "!=", "=~", "!~", "!>", "!<", ">=", ">>", "<=", "<<", "&&", "&>",
    "&<", "&~", "||", "!", ">", "<", "=", "|", "~", "+", "-", "*", "/", "%", "^", "(", ")", "{",
    "}", ",",
];

/// Scopes that, followed by `.`, start an attribute name.
const DOT_SCOPES: &[&str] = &[
    "span",
    "resource",
    "parent",
    "event",
    "link",
    "instrumentation",
];

/// Scopes that, followed by `:`, name an intrinsic (`span:duration`).
const COLON_SCOPES: &[&str] = &["span", "trace", "event", "link", "instrumentation"];

/// Splits `text` into tokens, ending with [`TokenKind::End`].
pub fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let end = token.kind == TokenKind::End;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    /// Index of the next character; its column is `pos + 1`.
    pos: usize,
}

fn syntax(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
        unsupported: false,
    }
}

/// Whether `c` can continue an attribute name (Tempo's `isAttributeRune`).
pub fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace() && !"{}()=~!<>&|^,".contains(c)
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn next_token(&mut self) -> Result<Token, QueryError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let column = self.pos + 1;
        let token = |kind| Ok(Token { kind, column });
        let Some(c) = self.peek() else {
            return token(TokenKind::End);
        };
        if c == '"' {
            return token(TokenKind::Str(self.quoted_string()?));
        }
        if c == '`' {
            return token(TokenKind::Str(self.raw_string()?));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            return token(self.number()?);
        }
        if c == '.' {
            self.pos += 1;
            let name = self.attribute_name(".")?;
            return token(TokenKind::Attribute {
                scope: String::new(),
                name,
            });
        }
        if is_word_start(c) {
            let start = self.pos;
            while self.peek().is_some_and(is_word_char) {
                self.pos += 1;
            }
            let word: String = self.chars[start..self.pos].iter().collect();
            if self.peek() == Some('.') && DOT_SCOPES.contains(&word.as_str()) {
                self.pos += 1;
                let name = self.attribute_name(&format!("{word}."))?;
                return token(TokenKind::Attribute { scope: word, name });
            }
            if self.peek() == Some(':') && COLON_SCOPES.contains(&word.as_str()) {
                self.pos += 1;
                return token(TokenKind::ScopeColon(word));
            }
            return token(TokenKind::Ident(word));
        }
        for op in OPERATORS {
            if op
                .chars()
                .enumerate()
                .all(|(i, o)| self.peek_at(i) == Some(o))
            {
                self.pos += op.chars().count();
                return token(TokenKind::Op(op));
            }
        }
        Err(syntax(column, format!("unexpected character `{c}`")))
    }

    /// The name after a scope's dot: attribute characters and quoted parts.
    fn attribute_name(&mut self, scope: &str) -> Result<String, QueryError> {
        let column = self.pos + 1;
        let mut name = String::new();
        let mut quoted = false;
        while let Some(c) = self.peek() {
            if c == '"' {
                quoted = true;
                let open = self.pos + 1;
                self.pos += 1;
                loop {
                    match self.peek() {
                        None => {
                            return Err(syntax(open, "unterminated quoted attribute name"));
                        }
                        Some('"') => {
                            self.pos += 1;
                            break;
                        }
                        Some('\\') => {
                            // Tempo allows only \" and \\ in quoted names.
                            match self.peek_at(1) {
                                Some(e @ ('"' | '\\')) => {
                                    name.push(e);
                                    self.pos += 2;
                                }
                                _ => {
                                    return Err(syntax(
                                        self.pos + 1,
                                        "invalid escape in a quoted attribute name (only \\\" and \\\\)",
                                    ));
                                }
                            }
                        }
                        Some(other) => {
                            name.push(other);
                            self.pos += 1;
                        }
                    }
                }
            } else if is_attribute_char(c) {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        if name.is_empty() && !quoted {
            return Err(syntax(
                column,
                format!("expected an attribute name after `{scope}`"),
            ));
        }
        Ok(name)
    }

    /// A double-quoted string with Go's escapes.
    fn quoted_string(&mut self) -> Result<String, QueryError> {
        let open = self.pos + 1;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(syntax(open, "unterminated string"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\n' => return Err(syntax(open, "unterminated string (newline inside quotes)")),
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    /// One escape after a backslash (already consumed).
    fn escape(&mut self) -> Result<char, QueryError> {
        let column = self.pos; // the backslash
        let Some(c) = self.peek() else {
            return Err(syntax(column, "unterminated escape"));
        };
        self.pos += 1;
        let simple = match c {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let (digits, radix) = match c {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => {
                self.pos -= 1;
                (3, 8)
            }
            _ => return Err(syntax(column, format!("invalid escape `\\{c}` in string"))),
        };
        let mut value: u32 = 0;
        for _ in 0..digits {
            let digit = self.peek().and_then(|d| d.to_digit(radix));
            let Some(digit) = digit else {
                return Err(syntax(column, "invalid escape in string: too few digits"));
            };
            value = value * radix + digit;
            self.pos += 1;
        }
        // \x and octal escapes are bytes in Go; only the ASCII ones are
        // characters on their own.
        if (c == 'x' || radix == 8) && value > 0x7f {
            return Err(syntax(
                column,
                "escape is not an ASCII character; write the character itself",
            ));
        }
        char::from_u32(value)
            .ok_or_else(|| syntax(column, "escape is not a valid Unicode character"))
    }

    /// A backtick string: no escapes.
    fn raw_string(&mut self) -> Result<String, QueryError> {
        let open = self.pos + 1;
        self.pos += 1;
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '`' {
                let text = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                return Ok(text);
            }
            self.pos += 1;
        }
        Err(syntax(open, "unterminated raw string"))
    }

    /// An int, a float or a duration.
    fn number(&mut self) -> Result<TokenKind, QueryError> {
        let column = self.pos + 1;
        let start = self.pos;
        let digits = |l: &mut Lexer| {
            while l.peek().is_some_and(|c| c.is_ascii_digit()) {
                l.pos += 1;
            }
        };
        digits(self);
        let mut float = false;
        if self.peek() == Some('.') {
            float = true;
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let number: String = self.chars[start..self.pos].iter().collect();

        // Like Tempo: the characters up to whitespace that could belong to a
        // duration are tried as one; if they do not make one, the number
        // stands alone.
        let mut end = self.pos;
        while let Some(&c) = self.chars.get(end) {
            if c.is_numeric() || c == '.' || "nsumhµμdwy".contains(c) {
                end += 1;
            } else {
                break;
            }
        }
        if end > self.pos {
            let candidate: String = self.chars[start..end].iter().collect();
            if let Some(nanos) = parse_duration(&candidate) {
                self.pos = end;
                return Ok(TokenKind::Duration(nanos));
            }
        }
        if float {
            number
                .parse::<f64>()
                .map(TokenKind::Float)
                .map_err(|_| syntax(column, format!("invalid number `{number}`")))
        } else {
            number
                .parse::<i64>()
                .map(TokenKind::Int)
                .map_err(|_| syntax(column, format!("integer `{number}` is out of range")))
        }
    }
}

/// Parses a duration: one or more `<number><unit>` (`1h30m`, `1.5s`), in
/// nanoseconds. `None` if it is not one or does not fit in an `i64`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let mut total: f64 = 0.0;
    while pos < chars.len() {
        let start = pos;
        while pos < chars.len() && chars[pos].is_ascii_digit() {
            pos += 1;
        }
        let mut fraction = false;
        if pos < chars.len() && chars[pos] == '.' {
            fraction = true;
            pos += 1;
            while pos < chars.len() && chars[pos].is_ascii_digit() {
                pos += 1;
            }
        }
        let number: String = chars[start..pos].iter().collect();
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_start = pos;
        while pos < chars.len() && !(chars[pos].is_ascii_digit() || chars[pos] == '.') {
            pos += 1;
        }
        let unit: String = chars[unit_start..pos].iter().collect();
        let nanos_per_unit: f64 = match unit.as_str() {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            // Prometheus's units; it takes whole numbers only.
            "d" if !fraction => 86_400e9,
            "w" if !fraction => 7.0 * 86_400e9,
            "y" if !fraction => 365.0 * 86_400e9,
            _ => return None,
        };
        total += value * nanos_per_unit;
    }
    // i64::MAX as f64 rounds up to 2^63, so `<` keeps the cast in range.
    (total.is_finite() && total < i64::MAX as f64).then(|| total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn err(text: &str) -> (usize, String) {
        let e = tokenize(text).unwrap_err();
        assert!(!e.unsupported);
        (e.column, e.message)
    }

    fn attr(scope: &str, name: &str) -> TokenKind {
        TokenKind::Attribute {
            scope: scope.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_filter_lexes_with_columns() {
        let tokens = tokenize(r#"{ span.http.status_code >= 500 }"#).unwrap();
        let got: Vec<(TokenKind, usize)> = tokens.into_iter().map(|t| (t.kind, t.column)).collect();
        assert_eq!(
            got,
            vec![
                (TokenKind::Op("{"), 1),
                (attr("span", "http.status_code"), 3),
                (TokenKind::Op(">="), 25),
                (TokenKind::Int(500), 28),
                (TokenKind::Op("}"), 32),
                (TokenKind::End, 33),
            ]
        );
    }

    #[test]
    fn attribute_names_end_where_tempo_ends_them() {
        assert_eq!(
            kinds(r#"{.foo-bar="x"}"#),
            vec![
                TokenKind::Op("{"),
                attr("", "foo-bar"),
                TokenKind::Op("="),
                TokenKind::Str("x".into()),
                TokenKind::Op("}"),
                TokenKind::End
            ]
        );
        assert_eq!(
            kinds(r#"resource.service.name!~"a""#)[..2],
            [attr("resource", "service.name"), TokenKind::Op("!~")]
        );
        assert_eq!(
            kinds(r#"span."foo bar"="#)[..2],
            [attr("span", "foo bar"), TokenKind::Op("=")]
        );
        assert_eq!(kinds(r#"span.a."b\"c""#)[0], attr("span", "a.b\"c"));
        assert_eq!(kinds("event.name")[0], attr("event", "name"));
    }

    #[test]
    fn scoped_intrinsics_lex_as_scope_then_word() {
        assert_eq!(
            kinds("span:duration trace:rootService"),
            vec![
                TokenKind::ScopeColon("span".into()),
                TokenKind::Ident("duration".into()),
                TokenKind::ScopeColon("trace".into()),
                TokenKind::Ident("rootService".into()),
                TokenKind::End
            ]
        );
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(
            kinds("200 1.5 .5 1e3 100ms 1.5s 2m 1h30m 3ns 4us 5µs 1d"),
            vec![
                TokenKind::Int(200),
                TokenKind::Float(1.5),
                TokenKind::Float(0.5),
                TokenKind::Float(1000.0),
                TokenKind::Duration(100_000_000),
                TokenKind::Duration(1_500_000_000),
                TokenKind::Duration(120_000_000_000),
                TokenKind::Duration(5_400_000_000_000),
                TokenKind::Duration(3),
                TokenKind::Duration(4_000),
                TokenKind::Duration(5_000),
                TokenKind::Duration(86_400_000_000_000),
                TokenKind::End
            ]
        );
        // not a duration: the number stands alone and the word follows
        assert_eq!(
            kinds("5xs")[..2],
            [TokenKind::Int(5), TokenKind::Ident("xs".into())]
        );
        assert_eq!(
            kinds("200)")[..2],
            [TokenKind::Int(200), TokenKind::Op(")")]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            kinds(r#""a\"b\n\u00e9\x41" `raw\n`"#)[..2],
            [
                TokenKind::Str("a\"b\né\x41".into()),
                TokenKind::Str("raw\\n".into())
            ]
        );
        assert_eq!(kinds("\"héllo\"")[0], TokenKind::Str("héllo".into()));
    }

    #[test]
    fn operators_match_longest_first() {
        assert_eq!(
            kinds("!>> !> ! >= >> > =~ !~ != && &>> || | ~ &~"),
            [
                "!>>", "!>", "!", ">=", ">>", ">", "=~", "!~", "!=", "&&", "&>>", "||", "|", "~",
                "&~"
            ]
            .iter()
            .map(|o| TokenKind::Op(o))
            .chain([TokenKind::End])
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn errors_point_at_their_column() {
        assert_eq!(
            err(r#"{ name = "abc }"#),
            (10, "unterminated string".into())
        );
        assert_eq!(
            err("{ name = `abc }"),
            (10, "unterminated raw string".into())
        );
        assert_eq!(err("{ a # b }").0, 5);
        assert_eq!(
            err("{ span. = 1 }"),
            (8, "expected an attribute name after `span.`".into())
        );
        assert_eq!(err(r#"{ name = "a\qb" }"#).0, 12);
        assert_eq!(
            err("{ span.x = 99999999999999999999 }"),
            (12, "integer `99999999999999999999` is out of range".into())
        );
        // columns count characters, not bytes
        assert_eq!(err("{ name = \"é\" # }").0, 14);
    }

    #[test]
    fn durations_refuse_what_go_and_prometheus_refuse() {
        assert_eq!(parse_duration("1.5d"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("99999999999h"), None);
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
    }
}
