//! The SQL parser (PostgreSQL dialect): a lexer built with chumsky and a hand-written
//! recursive-descent parser over its tokens, with precedence climbing for expressions.
//!
//! Lexing is flat (no nesting beyond comments) and its errors are few and fixed, which
//! suits a combinator parser: the `lexer` module is a chumsky parser from text to tokens
//! with byte spans. The grammar over tokens stays hand-written so that error messages say
//! exactly what was expected at the point of failure, nesting depth is bounded explicitly
//! (deep input gets an error, not a stack overflow) and the 30 MB conformance corpus parses
//! quickly in debug builds, where combinator parsers are many times slower.

mod expr;
mod lexer;
mod query;
mod stmt;

use crate::ast::{Ident, Span, Statement};
use lexer::{Tok, Token};

/// Deepest nesting of expressions and queries accepted (each parenthesis, operand, subquery
/// or EXPLAIN is a level).
pub const MAX_DEPTH: usize = 256;

/// Most stack the parser uses below its entry point. Optimized builds reach [`MAX_DEPTH`]
/// first (about 2.5 KiB a level); unoptimized builds have frames several times larger and
/// stop here instead, so a parse never overflows a 2 MiB thread stack in any build.
pub const STACK_BUDGET: usize = 1 << 20;

/// An address on the current stack, to measure how much stack the parser has used.
fn stack_address() -> usize {
    let probe = 0u8;
    std::ptr::addr_of!(probe) as usize
}

/// A syntax error: where it is and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
pub struct ParseError {
    /// What was expected and what was found.
    pub message: String,
    /// The offending text (empty at end of input).
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column of `span.start`, in characters.
    pub column: usize,
}

impl ParseError {
    /// An error at `span` of `sql`, with its line and column (for errors found after
    /// parsing, such as bind errors, that want the same rendering).
    pub(crate) fn new(sql: &str, span: Span, message: String) -> ParseError {
        ParseError::unlocated(span, message).locate(sql)
    }

    /// An error without line and column yet: [`ParseError::locate`] fills them in when the
    /// error leaves the parser, so errors the parser recovers from (it backtracks in a few
    /// places) cost no scan of the text.
    fn unlocated(span: Span, message: String) -> ParseError {
        ParseError {
            message,
            span,
            line: 0,
            column: 0,
        }
    }

    /// Computes line and column of `span.start` in `sql`.
    fn locate(mut self, sql: &str) -> ParseError {
        let start = floor_char_boundary(sql, self.span.start);
        let before = &sql[..start];
        self.line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        self.column = sql[line_start..start].chars().count() + 1;
        self
    }

    /// The error with the offending line and a caret under the offending text:
    ///
    /// ```text
    /// error: expected an expression, found keyword FROM
    ///  --> line 1, column 8
    ///   |
    /// 1 | SELECT FROM t
    ///   |        ^^^^
    /// ```
    pub fn render(&self, sql: &str) -> String {
        let start = floor_char_boundary(sql, self.span.start);
        let line_start = sql[..start].rfind('\n').map_or(0, |p| p + 1);
        let line_end = sql[start..].find('\n').map_or(sql.len(), |p| start + p);
        let text = sql[line_start..line_end].trim_end_matches('\r');
        // The caret stops at the end of the line (a span may run on, or start on a `\r`).
        let end = floor_char_boundary(sql, self.span.end.min(line_start + text.len()).max(start));
        // Tabs stay tabs so the caret lines up under the text however tabs are shown.
        let pad: String = sql[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = sql[start..end].chars().count().max(1);
        let num = self.line.to_string();
        let gutter = " ".repeat(num.len());
        format!(
            "error: {}\n{gutter}--> line {}, column {}\n{gutter} |\n{num} | {text}\n{gutter} | {}{}\n",
            self.message,
            self.line,
            self.column,
            pad,
            "^".repeat(width)
        )
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Parses a `;`-separated script; empty statements are skipped.
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParseError> {
    parse_script(sql).map_err(|e| e.locate(sql))
}

/// Parses exactly one statement (a trailing `;` is allowed).
pub fn parse_one(sql: &str) -> Result<Statement, ParseError> {
    parse_single(sql).map_err(|e| e.locate(sql))
}

fn parse_script(sql: &str) -> Result<Vec<Statement>, ParseError> {
    let mut p = Parser::new(sql)?;
    let mut out = Vec::new();
    loop {
        while p.eat(&Tok::Semicolon) {}
        if p.at_eof() {
            return Ok(out);
        }
        out.push(p.parse_statement()?);
        if !p.at_eof() && !p.eat(&Tok::Semicolon) {
            return Err(p.expected("\";\" or end of input"));
        }
    }
}

fn parse_single(sql: &str) -> Result<Statement, ParseError> {
    let mut p = Parser::new(sql)?;
    while p.eat(&Tok::Semicolon) {}
    if p.at_eof() {
        return Err(p.expected("a statement"));
    }
    let stmt = p.parse_statement()?;
    if !p.at_eof() && !matches!(p.peek(), Tok::Semicolon) {
        return Err(p.expected("\";\" or end of input"));
    }
    while p.eat(&Tok::Semicolon) {}
    if !p.at_eof() {
        return Err(p.error_here("expected one statement, found a second one"));
    }
    Ok(stmt)
}

/// PostgreSQL's reserved words (including those that may name functions or types but not
/// columns or tables): these are never identifiers unless quoted.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "system_user",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
    // reserved, but may be a function or type name
    "authorization",
    "binary",
    "collation",
    "concurrently",
    "cross",
    "current_schema",
    "freeze",
    "full",
    "ilike",
    "inner",
    "is",
    "isnull",
    "join",
    "left",
    "like",
    "natural",
    "notnull",
    "outer",
    "overlaps",
    "right",
    "similar",
    "tablesample",
    "verbose",
];

/// Non-reserved words the grammar gives a meaning somewhere; they are still identifiers
/// elsewhere (a column may be called `key` or `text`). Listed so messages call them keywords.
const KEYWORDS: &[&str] = &[
    "add",
    "alter",
    "begin",
    "between",
    "bigint",
    "bool",
    "boolean",
    "by",
    "char",
    "character",
    "commit",
    "conflict",
    "decimal",
    "delete",
    "double",
    "drop",
    "escape",
    "exists",
    "explain",
    "first",
    "float",
    "if",
    "ignore",
    "index",
    "insert",
    "int",
    "integer",
    "key",
    "last",
    "nothing",
    "nulls",
    "numeric",
    "precision",
    "real",
    "rename",
    "replace",
    "rollback",
    "set",
    "show",
    "smallint",
    "start",
    "text",
    "time",
    "timestamp",
    "transaction",
    "unknown",
    "update",
    "values",
    "varchar",
    "view",
    "without",
    "zone",
];

/// Whether `word` (lower case) is reserved: it cannot be an unquoted identifier.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

pub(crate) struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    stack_base: usize,
    /// Token positions where reading `(` as the start of a subquery failed. The attempt
    /// depends only on the position, so remembering failures keeps nested
    /// `((( ... (SELECT 1) + 1 ...)))` from being re-read once per enclosing level.
    failed_subqueries: std::collections::HashSet<usize>,
}

impl<'a> Parser<'a> {
    fn new(sql: &'a str) -> Result<Parser<'a>, ParseError> {
        let tokens = lexer::tokenize(sql)?;
        Ok(Parser {
            sql,
            tokens,
            pos: 0,
            depth: 0,
            stack_base: stack_address(),
            failed_subqueries: Default::default(),
        })
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos.min(self.tokens.len() - 1)].span
    }

    /// The span of the last consumed token.
    fn prev_span(&self) -> Span {
        if self.pos == 0 {
            Span::new(0, 0)
        } else {
            self.tokens[self.pos - 1].span
        }
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    /// Consumes the next token and returns its span.
    fn advance(&mut self) -> Span {
        let span = self.span();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        span
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Span, ParseError> {
        if self.peek() == tok {
            Ok(self.advance())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_lparen(&mut self) -> Result<Span, ParseError> {
        self.expect(&Tok::LParen, "\"(\"")
    }

    fn expect_rparen(&mut self) -> Result<Span, ParseError> {
        self.expect(&Tok::RParen, "\")\"")
    }

    /// Whether the next token is the unquoted keyword `kw` (lower case).
    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_at(n), Tok::Word { text, quoted: false } if text == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<Span, ParseError> {
        if self.is_kw(kw) {
            Ok(self.advance())
        } else {
            Err(self.expected(&kw.to_ascii_uppercase()))
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// An identifier: quoted, or an unquoted word that is not reserved.
    fn ident(&mut self, what: &str) -> Result<Ident, ParseError> {
        match self.peek() {
            Tok::Word { text, quoted } if *quoted || !is_reserved(text) => {
                let (value, quoted) = (text.clone(), *quoted);
                let span = self.advance();
                Ok(Ident {
                    value,
                    quoted,
                    span,
                })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Any word, reserved or not (after `AS` and `.`, where PostgreSQL allows keywords).
    fn any_word(&mut self, what: &str) -> Result<Ident, ParseError> {
        match self.peek() {
            Tok::Word { text, quoted } => {
                let (value, quoted) = (text.clone(), *quoted);
                let span = self.advance();
                Ok(Ident {
                    value,
                    quoted,
                    span,
                })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Whether the next token can start an identifier (see [`Parser::ident`]).
    fn at_ident(&self) -> bool {
        matches!(self.peek(), Tok::Word { text, quoted } if *quoted || !is_reserved(text))
    }

    /// `(a, b, ...)`.
    fn ident_list_in_parens(&mut self, what: &str) -> Result<Vec<Ident>, ParseError> {
        self.expect_lparen()?;
        let mut out = vec![self.ident(what)?];
        while self.eat(&Tok::Comma) {
            out.push(self.ident(what)?);
        }
        self.expect_rparen()?;
        Ok(out)
    }

    /// Enters one level of nesting; see [`MAX_DEPTH`] and [`STACK_BUDGET`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || self.stack_base.abs_diff(stack_address()) > STACK_BUDGET {
            return Err(self.error_here(&format!(
                "statement is nested too deeply (more than {MAX_DEPTH} levels)"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Runs `f`; on failure rewinds to where it started and returns `None`. For the few
    /// places where the grammar needs to look further ahead than a token or two.
    fn try_parse<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        let (pos, depth) = (self.pos, self.depth);
        match f(self) {
            Ok(v) => Ok(Some(v)),
            // Too deep is too deep whichever way the text is read.
            Err(e) if e.message.starts_with("statement is nested too deeply") => Err(e),
            Err(_) => {
                self.pos = pos;
                self.depth = depth;
                Ok(None)
            }
        }
    }

    /// [`Parser::try_parse`] for a parenthesized subquery at the current `(`.
    fn try_subquery<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        let pos = self.pos;
        if self.failed_subqueries.contains(&pos) {
            return Ok(None);
        }
        let result = self.try_parse(f)?;
        if result.is_none() {
            self.failed_subqueries.insert(pos);
        }
        Ok(result)
    }

    fn describe(&self, tok: &Tok) -> String {
        match tok {
            Tok::Word { text, quoted: true } => format!("identifier \"{text}\""),
            Tok::Word {
                text,
                quoted: false,
            } => {
                if is_reserved(text) || KEYWORDS.contains(&text.as_str()) {
                    format!("keyword {}", text.to_ascii_uppercase())
                } else {
                    format!("identifier {text}")
                }
            }
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(s) => {
                let short: String = s.chars().take(30).collect();
                let more = if short.len() < s.len() { "..." } else { "" };
                format!("string '{short}{more}'")
            }
            Tok::Param(n) => format!("parameter ${n}"),
            Tok::Op(o) => format!("\"{o}\""),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Semicolon => "\";\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::DoubleColon => "\"::\"".into(),
            Tok::Eof => "end of input".into(),
        }
    }

    /// "expected WHAT, found TOKEN" at the next token.
    fn expected(&self, what: &str) -> ParseError {
        let found = self.describe(self.peek());
        self.error_here(&format!("expected {what}, found {found}"))
    }

    fn error_here(&self, message: &str) -> ParseError {
        ParseError::unlocated(self.span(), message.to_string())
    }

    fn error_at(&self, span: Span, message: &str) -> ParseError {
        ParseError::unlocated(span, message.to_string())
    }

    /// The source text of a span.
    fn text(&self, span: Span) -> &'a str {
        self.sql.get(span.range()).unwrap_or("")
    }
}
