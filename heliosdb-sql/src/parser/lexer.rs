//! Tokens, following PostgreSQL's lexical rules where they matter: unquoted identifiers fold
//! to lower case, `''` escapes a quote, `/* */` comments nest, and operators are runs of
//! operator characters that may not end in `+` or `-` (so `*-1` is `*` then `-1`).

use super::ParseError;
use crate::ast::Span;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword: folded to lower case unless quoted.
    Word {
        text: String,
        quoted: bool,
    },
    /// A number, as written.
    Number(String),
    /// A string literal, unescaped.
    Str(String),
    /// `$n`.
    Param(u32),
    /// An operator (`+`, `<=`, `<->`, `||`, ...).
    Op(String),
    LParen,
    RParen,
    Comma,
    Semicolon,
    Dot,
    /// `::`.
    DoubleColon,
    /// End of input.
    Eof,
}

/// A token and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

const OP_CHARS: &[u8] = b"+-*/<>=~!@#%^&|`?";

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// Splits `sql` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token>, ParseError> {
    let b = sql.as_bytes();
    let mut out = Vec::with_capacity(sql.len() / 3 + 1);
    let mut i = 0;
    let err =
        |start: usize, end: usize, msg: String| ParseError::unlocated(Span::new(start, end), msg);
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            if depth != 0 {
                return Err(err(start, start + 2, "unterminated /* comment".into()));
            }
            continue;
        }
        let tok = if is_ident_start(c) {
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            Tok::Word {
                text: sql[start..i].to_ascii_lowercase(),
                quoted: false,
            }
        } else if c == b'"' {
            let mut text = String::new();
            i += 1;
            loop {
                let Some(rel) = sql[i..].find('"') else {
                    return Err(err(
                        start,
                        start + 1,
                        "unterminated quoted identifier".into(),
                    ));
                };
                text.push_str(&sql[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'"') {
                    text.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            if text.is_empty() {
                return Err(err(start, i, "zero-length quoted identifier".into()));
            }
            Tok::Word { text, quoted: true }
        } else if c == b'\'' {
            let mut text = String::new();
            i += 1;
            loop {
                let Some(rel) = sql[i..].find('\'') else {
                    return Err(err(start, start + 1, "unterminated string literal".into()));
                };
                text.push_str(&sql[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'\'') {
                    text.push('\'');
                    i += 1;
                } else {
                    break;
                }
            }
            Tok::Str(text)
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' && b.get(i + 1) != Some(&b'.') {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            if i < b.len() && is_ident_char(b[i]) {
                let mut j = i;
                while j < b.len() && is_ident_char(b[j]) {
                    j += 1;
                }
                return Err(err(start, j, "trailing junk after numeric literal".into()));
            }
            Tok::Number(sql[start..i].to_string())
        } else if c == b'$' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            match sql[start + 1..i].parse::<u32>() {
                Ok(n) if n >= 1 => Tok::Param(n),
                _ => {
                    let end = if i == start + 1 { start + 1 } else { i };
                    return Err(err(
                        start,
                        end,
                        "expected a parameter number after $".into(),
                    ));
                }
            }
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 2;
            Tok::DoubleColon
        } else if OP_CHARS.contains(&c) {
            // A run of operator characters, stopping before a comment start.
            while i < b.len() && OP_CHARS.contains(&b[i]) {
                if i > start
                    && ((b[i] == b'-' && b.get(i + 1) == Some(&b'-'))
                        || (b[i] == b'/' && b.get(i + 1) == Some(&b'*')))
                {
                    break;
                }
                i += 1;
            }
            // PostgreSQL: a multi-character operator cannot end in + or - unless it contains
            // one of ~ ! @ # % ^ & | ` ?, so `*-1` is `*` followed by `-1`.
            let run = &b[start..i];
            if run.len() > 1 && !run.iter().any(|c| b"~!@#%^&|`?".contains(c)) {
                while i - start > 1 && (b[i - 1] == b'+' || b[i - 1] == b'-') {
                    i -= 1;
                }
            }
            Tok::Op(sql[start..i].to_string())
        } else {
            i += 1;
            match c {
                b'(' => Tok::LParen,
                b')' => Tok::RParen,
                b',' => Tok::Comma,
                b';' => Tok::Semicolon,
                b'.' => Tok::Dot,
                _ => {
                    // Report the whole (possibly multi-byte) character.
                    let ch_len = sql[start..].chars().next().map_or(1, char::len_utf8);
                    let ch = &sql[start..start + ch_len];
                    return Err(err(
                        start,
                        start + ch_len,
                        format!("unexpected character {ch:?}"),
                    ));
                }
            }
        };
        out.push(Token {
            tok,
            span: Span::new(start, i),
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(b.len(), b.len()),
    });
    Ok(out)
}
