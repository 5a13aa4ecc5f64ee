//! Expressions and type names, by precedence climbing with PostgreSQL's precedence table.

use super::{ParseError, Parser, lexer::Tok};
use crate::ast::{
    BinaryOp, DataType, Expr, ExprKind, FunctionArgs, FunctionCall, Ident, Literal, Query, Span,
    TypeKind, UnaryOp,
};

// Precedence levels, loosest first (PostgreSQL's table, gram.y).
pub(super) const P_OR: u8 = 1;
pub(super) const P_AND: u8 = 2;
pub(super) const P_NOT: u8 = 3;
pub(super) const P_IS: u8 = 4;
pub(super) const P_CMP: u8 = 5;
/// BETWEEN, IN, LIKE, ILIKE.
pub(super) const P_IN: u8 = 6;
/// Any other operator: `||`, pgvector's `<->` `<=>` `<#>`, bitwise operators.
pub(super) const P_OTHER: u8 = 7;
pub(super) const P_ADD: u8 = 8;
pub(super) const P_MUL: u8 = 9;
pub(super) const P_POW: u8 = 10;
pub(super) const P_UNARY: u8 = 11;
pub(super) const P_CAST: u8 = 12;

/// Words that can start a type name in a typed literal (`TIMESTAMP '...'`).
const TYPE_WORDS: &[&str] = &[
    "smallint",
    "int2",
    "integer",
    "int",
    "int4",
    "bigint",
    "int8",
    "real",
    "float4",
    "float8",
    "float",
    "double",
    "numeric",
    "decimal",
    "dec",
    "text",
    "varchar",
    "character",
    "char",
    "bpchar",
    "bytea",
    "blob",
    "boolean",
    "bool",
    "timestamp",
    "timestamptz",
    "vector",
];

/// Reserved words that may still name a function (`left(s, 2)`).
const FUNCTION_RESERVED: &[&str] = &["left", "right", "collation", "current_schema"];

/// An infix or postfix operator found at the current token.
enum Infix {
    Binary(BinaryOp, u8),
    /// `IS ...`
    Is,
    /// ISNULL / NOTNULL.
    NullTest(bool),
    /// `[NOT] BETWEEN | IN | LIKE | ILIKE`; the bool is NOT.
    Between(bool),
    In(bool),
    Like(bool, bool),
    Cast,
}

impl Infix {
    fn precedence(&self) -> u8 {
        match self {
            Infix::Binary(_, p) => *p,
            Infix::Is | Infix::NullTest(_) => P_IS,
            Infix::Between(_) | Infix::In(_) | Infix::Like(..) => P_IN,
            Infix::Cast => P_CAST,
        }
    }
}

fn expr(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, span }
}

impl Parser<'_> {
    /// A full expression.
    pub(super) fn parse_expr(&mut self) -> Result<Expr, ParseError> {
        self.parse_expr_bp(0)
    }

    /// An expression whose operators all bind at least as tightly as `min`.
    ///
    /// The recursive path runs through this function and a few small helpers; each is kept
    /// small because unoptimized builds give every local its own stack slot, and the frame
    /// size times [`super::MAX_DEPTH`] is the parser's worst-case stack use.
    pub(super) fn parse_expr_bp(&mut self, min: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.parse_prefix()?;
        // The level of the last non-associative operator with a right operand, so
        // `a = b = c` is refused as PostgreSQL does rather than read one way silently.
        let mut last_nonassoc: Option<u8> = None;
        while let Some(op) = self.peek_infix()? {
            let prec = op.precedence();
            if prec < min {
                break;
            }
            if last_nonassoc == Some(prec) {
                return Err(self.chained_error());
            }
            left = self.parse_infix(left, op, &mut last_nonassoc)?;
        }
        self.leave();
        Ok(left)
    }

    fn chained_error(&self) -> ParseError {
        self.error_here(&format!(
            "{} cannot follow another operator of the same precedence; add parentheses",
            self.describe(self.peek())
        ))
    }

    /// Applies `op` to `left`; sets `nonassoc` to the level that may not directly follow
    /// (non-associative operators).
    fn parse_infix(
        &mut self,
        left: Expr,
        op: Infix,
        nonassoc: &mut Option<u8>,
    ) -> Result<Expr, ParseError> {
        *nonassoc = match op {
            Infix::Binary(_, P_CMP) => Some(P_CMP),
            Infix::Between(_) | Infix::Like(..) => Some(P_IN),
            _ => None,
        };
        match op {
            Infix::Binary(op, prec) => self.infix_binary(left, op, prec),
            Infix::NullTest(negated) => Ok(self.infix_null_test(left, negated)),
            Infix::Is => self.infix_is(left, nonassoc),
            Infix::Between(negated) => self.infix_between(left, negated),
            Infix::In(negated) => self.infix_in(left, negated),
            Infix::Like(negated, ci) => self.infix_like(left, negated, ci),
            Infix::Cast => self.infix_cast(left),
        }
    }

    fn infix_in(&mut self, left: Expr, negated: bool) -> Result<Expr, ParseError> {
        self.skip_not(negated);
        self.advance();
        self.parse_in(left, negated)
    }

    fn infix_binary(&mut self, left: Expr, op: BinaryOp, prec: u8) -> Result<Expr, ParseError> {
        self.advance();
        let right = self.parse_expr_bp(prec + 1)?;
        let span = left.span.to(right.span);
        Ok(expr(
            ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        ))
    }

    fn infix_null_test(&mut self, left: Expr, negated: bool) -> Expr {
        let span = left.span.to(self.advance());
        expr(
            ExprKind::IsNull {
                expr: Box::new(left),
                negated,
            },
            span,
        )
    }

    fn infix_is(&mut self, left: Expr, nonassoc: &mut Option<u8>) -> Result<Expr, ParseError> {
        self.advance();
        let negated = self.eat_kw("not");
        if self.eat_kw("distinct") {
            self.expect_kw("from")?;
            *nonassoc = Some(P_IS);
            let right = Box::new(self.parse_expr_bp(P_IS + 1)?);
            let span = left.span.to(right.span);
            let left = Box::new(left);
            return Ok(expr(
                ExprKind::IsDistinctFrom {
                    left,
                    right,
                    negated,
                },
                span,
            ));
        }
        let value = if self.is_kw("null") {
            None
        } else if self.is_kw("true") {
            Some(Some(true))
        } else if self.is_kw("false") {
            Some(Some(false))
        } else if self.is_kw("unknown") {
            Some(None)
        } else {
            return Err(self.expected("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM"));
        };
        let span = left.span.to(self.advance());
        let left = Box::new(left);
        let kind = match value {
            None => ExprKind::IsNull {
                expr: left,
                negated,
            },
            Some(value) => ExprKind::IsTruth {
                expr: left,
                value,
                negated,
            },
        };
        Ok(expr(kind, span))
    }

    fn infix_between(&mut self, left: Expr, negated: bool) -> Result<Expr, ParseError> {
        self.skip_not(negated);
        self.advance();
        if self.eat_kw("symmetric") {
            return Err(self.error_at(self.prev_span(), "BETWEEN SYMMETRIC is not supported"));
        }
        self.eat_kw("asymmetric");
        let low = Box::new(self.parse_expr_bp(P_OTHER)?);
        self.expect_kw("and")?;
        let high = Box::new(self.parse_expr_bp(P_OTHER)?);
        let span = left.span.to(high.span);
        Ok(expr(
            ExprKind::Between {
                expr: Box::new(left),
                low,
                high,
                negated,
            },
            span,
        ))
    }

    fn infix_like(
        &mut self,
        left: Expr,
        negated: bool,
        case_insensitive: bool,
    ) -> Result<Expr, ParseError> {
        self.skip_not(negated);
        self.advance();
        let pattern = Box::new(self.parse_expr_bp(P_IN + 1)?);
        let mut span = left.span.to(pattern.span);
        let escape = if self.eat_kw("escape") {
            let e = Box::new(self.parse_expr_bp(P_IN + 1)?);
            span = span.to(e.span);
            Some(e)
        } else {
            None
        };
        let left = Box::new(left);
        let kind = ExprKind::Like {
            expr: left,
            pattern,
            escape,
            negated,
            case_insensitive,
        };
        Ok(expr(kind, span))
    }

    fn infix_cast(&mut self, left: Expr) -> Result<Expr, ParseError> {
        self.advance();
        let data_type = self.parse_data_type()?;
        let span = left.span.to(data_type.span);
        Ok(expr(
            ExprKind::Cast {
                expr: Box::new(left),
                data_type,
            },
            span,
        ))
    }

    fn skip_not(&mut self, negated: bool) {
        if negated {
            self.advance();
        }
    }

    /// The operator at the current token, if there is one.
    fn peek_infix(&self) -> Result<Option<Infix>, ParseError> {
        use BinaryOp as B;
        Ok(Some(match self.peek() {
            Tok::Word {
                text,
                quoted: false,
            } => match text.as_str() {
                "or" => Infix::Binary(B::Or, P_OR),
                "and" => Infix::Binary(B::And, P_AND),
                "is" => Infix::Is,
                "isnull" => Infix::NullTest(false),
                "notnull" => Infix::NullTest(true),
                "between" => Infix::Between(false),
                "in" => Infix::In(false),
                "like" => Infix::Like(false, false),
                "ilike" => Infix::Like(false, true),
                "not" if self.is_kw_at(1, "between") => Infix::Between(true),
                "not" if self.is_kw_at(1, "in") => Infix::In(true),
                "not" if self.is_kw_at(1, "like") => Infix::Like(true, false),
                "not" if self.is_kw_at(1, "ilike") => Infix::Like(true, true),
                _ => return Ok(None),
            },
            Tok::DoubleColon => Infix::Cast,
            Tok::Op(op) => {
                let (op, prec) = match op.as_str() {
                    "=" => (B::Eq, P_CMP),
                    "<>" | "!=" => (B::NotEq, P_CMP),
                    "<" => (B::Lt, P_CMP),
                    "<=" => (B::LtEq, P_CMP),
                    ">" => (B::Gt, P_CMP),
                    ">=" => (B::GtEq, P_CMP),
                    "+" => (B::Plus, P_ADD),
                    "-" => (B::Minus, P_ADD),
                    "*" => (B::Multiply, P_MUL),
                    "/" => (B::Divide, P_MUL),
                    "%" => (B::Modulo, P_MUL),
                    "^" => (B::Power, P_POW),
                    "||" => (B::Concat, P_OTHER),
                    "<->" => (B::L2Distance, P_OTHER),
                    "<=>" => (B::CosineDistance, P_OTHER),
                    "<#>" => (B::NegativeInnerProduct, P_OTHER),
                    "&" => (B::BitAnd, P_OTHER),
                    "|" => (B::BitOr, P_OTHER),
                    "#" => (B::BitXor, P_OTHER),
                    "<<" => (B::ShiftLeft, P_OTHER),
                    ">>" => (B::ShiftRight, P_OTHER),
                    other => {
                        return Err(self.error_here(&format!("operator {other} is not supported")));
                    }
                };
                Infix::Binary(op, prec)
            }
            _ => return Ok(None),
        }))
    }

    /// After `[NOT] IN`: `(list)` or `(query)`.
    fn parse_in(&mut self, left: Expr, negated: bool) -> Result<Expr, ParseError> {
        if self.query_follows_parens()
            && let Some((query, end)) = self.try_subquery(Self::paren_query)?
        {
            let span = left.span.to(end);
            let kind = ExprKind::InSubquery {
                expr: Box::new(left),
                query,
                negated,
            };
            return Ok(expr(kind, span));
        }
        if !matches!(self.peek(), Tok::LParen) {
            return Err(self.expected("\"(\" after IN"));
        }
        let mut list = Vec::new();
        let end = self.paren_expr_list(&mut list)?;
        let span = left.span.to(end);
        Ok(expr(
            ExprKind::InList {
                expr: Box::new(left),
                list,
                negated,
            },
            span,
        ))
    }

    /// `(query)`; returns the query and the span of `)`.
    fn paren_query(&mut self) -> Result<(Box<Query>, Span), ParseError> {
        self.expect_lparen()?;
        let q = self.parse_query()?;
        let end = self.expect_rparen()?;
        Ok((q, end))
    }

    /// `(e1, e2, ...)` with at least one item into `list`; returns the span of `)`.
    fn paren_expr_list(&mut self, list: &mut Vec<Expr>) -> Result<Span, ParseError> {
        self.expect_lparen()?;
        if matches!(self.peek(), Tok::RParen) {
            return Err(self.expected("an expression"));
        }
        self.parse_expr_list_into(list)?;
        self.expect_rparen()
    }

    /// Whether the next tokens are one or more `(` followed by SELECT, WITH or VALUES.
    pub(super) fn query_follows_parens(&self) -> bool {
        let mut n = 0;
        while matches!(self.peek_at(n), Tok::LParen) {
            n += 1;
        }
        n > 0 && self.query_starts_at(n)
    }

    pub(super) fn query_starts_at(&self, n: usize) -> bool {
        self.is_kw_at(n, "select") || self.is_kw_at(n, "with") || self.is_kw_at(n, "values")
    }

    fn parse_prefix(&mut self) -> Result<Expr, ParseError> {
        let start = self.span();
        let lit = match self.peek() {
            Tok::Number(n) => match n.parse::<i64>() {
                Ok(i) => Literal::Integer(i),
                Err(_) => Literal::Numeric(n.clone()),
            },
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Param(n) => {
                let n = *n;
                self.advance();
                return Ok(expr(ExprKind::Parameter(n), start));
            }
            Tok::Op(op) if op == "-" || op == "+" => {
                let op = if op == "-" {
                    UnaryOp::Minus
                } else {
                    UnaryOp::Plus
                };
                return self.prefix_unary(op, P_UNARY + 1);
            }
            Tok::LParen => return self.parse_parenthesized(),
            Tok::Op(op) if op == "?" => {
                return Err(self.error_here("parameters are written $1, $2, ..., not ?"));
            }
            Tok::Word { quoted: false, .. } => return self.parse_word_prefix(),
            Tok::Word { quoted: true, .. } => return self.parse_name_expr(),
            _ => return Err(self.expected("an expression")),
        };
        self.advance();
        Ok(expr(ExprKind::Literal(lit), start))
    }

    /// A prefix operator; its operand holds the operators at `operand_min` and tighter.
    fn prefix_unary(&mut self, op: UnaryOp, operand_min: u8) -> Result<Expr, ParseError> {
        let start = self.advance();
        let operand = self.parse_expr_bp(operand_min)?;
        let span = start.to(operand.span);
        Ok(expr(
            ExprKind::Unary {
                op,
                expr: Box::new(operand),
            },
            span,
        ))
    }

    /// `(expr)` or `(query)`.
    fn parse_parenthesized(&mut self) -> Result<Expr, ParseError> {
        if self.query_starts_at(1) {
            // `(SELECT ...`: certainly a subquery; no backtracking, so its errors are precise.
            return self.paren_subquery();
        }
        if self.query_follows_parens()
            && let Some(e) = self.try_subquery(Self::paren_subquery)?
        {
            return Ok(e);
        }
        self.paren_expr_inner()
    }

    /// `(expr)`; the span includes the parentheses.
    fn paren_expr_inner(&mut self) -> Result<Expr, ParseError> {
        let start = self.advance();
        let mut inner = self.parse_expr()?;
        if matches!(self.peek(), Tok::Comma) {
            return Err(self.error_here("row constructors (a, b, ...) are not supported"));
        }
        inner.span = start.to(self.expect_rparen()?);
        Ok(inner)
    }

    /// `(query)` as a scalar subquery.
    fn paren_subquery(&mut self) -> Result<Expr, ParseError> {
        let start = self.expect_lparen()?;
        let q = self.parse_query()?;
        let end = self.expect_rparen()?;
        Ok(expr(ExprKind::Subquery(q), start.to(end)))
    }

    /// An expression starting with an unquoted word: a keyword construct, a typed literal,
    /// a column or a function call.
    fn parse_word_prefix(&mut self) -> Result<Expr, ParseError> {
        let Tok::Word { text, .. } = self.peek() else {
            return Err(self.expected("an expression"));
        };
        match text.as_str() {
            "null" => self.keyword_literal(Literal::Null),
            "true" => self.keyword_literal(Literal::Boolean(true)),
            "false" => self.keyword_literal(Literal::Boolean(false)),
            "not" => self.prefix_unary(UnaryOp::Not, P_NOT + 1),
            "case" => self.parse_case(),
            "cast" => self.parse_cast(),
            "exists" if matches!(self.peek_at(1), Tok::LParen) => self.parse_exists(),
            "current_timestamp" | "current_date" | "current_time" | "localtimestamp"
            | "localtime" => self.parse_sql_value_function(),
            word => {
                let typed = TYPE_WORDS.contains(&word)
                    && matches!(
                        self.peek_at(1),
                        Tok::Str(_) | Tok::Word { .. } | Tok::LParen
                    );
                let reserved = crate::parser::is_reserved(word)
                    && !(FUNCTION_RESERVED.contains(&word)
                        && matches!(self.peek_at(1), Tok::LParen));
                if typed && let Some(e) = self.try_parse(Self::typed_string)? {
                    return Ok(e);
                }
                if reserved {
                    return Err(self.expected("an expression"));
                }
                self.parse_name_expr()
            }
        }
    }

    fn keyword_literal(&mut self, lit: Literal) -> Result<Expr, ParseError> {
        let span = self.advance();
        Ok(expr(ExprKind::Literal(lit), span))
    }

    fn parse_cast(&mut self) -> Result<Expr, ParseError> {
        let start = self.advance();
        self.expect_lparen()?;
        let inner = Box::new(self.parse_expr()?);
        self.expect_kw("as")?;
        let data_type = self.parse_data_type()?;
        let end = self.expect_rparen()?;
        Ok(expr(
            ExprKind::Cast {
                expr: inner,
                data_type,
            },
            start.to(end),
        ))
    }

    fn parse_exists(&mut self) -> Result<Expr, ParseError> {
        let start = self.advance();
        self.expect_lparen()?;
        let q = self.parse_query()?;
        let end = self.expect_rparen()?;
        Ok(expr(ExprKind::Exists(q), start.to(end)))
    }

    /// CURRENT_TIMESTAMP and friends: functions called without parentheses.
    fn parse_sql_value_function(&mut self) -> Result<Expr, ParseError> {
        let name = self.any_word("a function name")?;
        let span = name.span;
        let call = FunctionCall {
            name,
            args: FunctionArgs::List(vec![]),
            distinct: false,
        };
        Ok(expr(ExprKind::Function(Box::new(call)), span))
    }

    /// `TIMESTAMP '...'`, `DOUBLE PRECISION '1'`, `VARCHAR(3) 'x'`.
    fn typed_string(&mut self) -> Result<Expr, ParseError> {
        let data_type = self.parse_data_type()?;
        match self.peek() {
            Tok::Str(value) => {
                let value = value.clone();
                let span = data_type.span.to(self.advance());
                Ok(expr(ExprKind::TypedString { data_type, value }, span))
            }
            _ => Err(self.expected("a string")),
        }
    }

    /// A column reference `a`, `t.a`, or a function call `f(...)`.
    fn parse_name_expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.any_word("an expression")?;
        if matches!(self.peek(), Tok::LParen) {
            return self.parse_function(first);
        }
        if matches!(self.peek(), Tok::Dot) {
            return self.parse_qualified_column(first);
        }
        let span = first.span;
        Ok(expr(
            ExprKind::Column {
                table: None,
                column: first,
            },
            span,
        ))
    }

    fn parse_qualified_column(&mut self, table: Ident) -> Result<Expr, ParseError> {
        self.advance();
        if self.is_op("*") {
            return Err(self.error_here("t.* is only allowed in a select list"));
        }
        let column = self.any_word("a column name")?;
        if matches!(self.peek(), Tok::Dot) {
            return Err(self.error_here("schema-qualified names are not supported"));
        }
        if matches!(self.peek(), Tok::LParen) {
            return Err(self.error_here("schema-qualified functions are not supported"));
        }
        let span = table.span.to(column.span);
        Ok(expr(
            ExprKind::Column {
                table: Some(table),
                column,
            },
            span,
        ))
    }

    fn parse_function(&mut self, name: Ident) -> Result<Expr, ParseError> {
        self.expect_lparen()?;
        let mut call = Box::new(FunctionCall {
            name,
            args: FunctionArgs::Star,
            distinct: false,
        });
        if self.is_op("*") {
            self.advance();
        } else {
            self.parse_function_args(&mut call)?;
        }
        let end = self.expect_rparen()?;
        self.no_function_suffix()?;
        let span = call.name.span.to(end);
        Ok(expr(ExprKind::Function(call), span))
    }

    /// `[DISTINCT | ALL] arg, ...` (possibly none).
    fn parse_function_args(&mut self, call: &mut FunctionCall) -> Result<(), ParseError> {
        let mut args = Vec::new();
        if !matches!(self.peek(), Tok::RParen) {
            if self.eat_kw("distinct") {
                call.distinct = true;
            } else {
                self.eat_kw("all");
            }
            self.parse_expr_list_into(&mut args)?;
            if self.is_kw("order") {
                return Err(self.error_here("ORDER BY inside an aggregate is not supported"));
            }
        }
        call.args = FunctionArgs::List(args);
        Ok(())
    }

    fn no_function_suffix(&self) -> Result<(), ParseError> {
        if self.is_kw("filter") && matches!(self.peek_at(1), Tok::LParen) {
            return Err(self.error_here("FILTER is not supported"));
        }
        if self.is_kw("over") {
            return Err(self.error_here("window functions (OVER) are not supported"));
        }
        Ok(())
    }

    fn parse_case(&mut self) -> Result<Expr, ParseError> {
        let start = self.advance();
        let mut operand = None;
        if !self.is_kw("when") {
            self.parse_boxed_into(&mut operand)?;
        }
        let mut branches = Vec::new();
        while self.eat_kw("when") {
            self.parse_case_branch(&mut branches)?;
        }
        if branches.is_empty() {
            return Err(self.expected("WHEN"));
        }
        let mut else_result = None;
        if self.eat_kw("else") {
            self.parse_boxed_into(&mut else_result)?;
        }
        if !self.is_kw("end") {
            let what = if else_result.is_some() {
                "END"
            } else {
                "WHEN, ELSE or END"
            };
            return Err(self.expected(what));
        }
        let span = start.to(self.advance());
        Ok(expr(
            ExprKind::Case {
                operand,
                branches,
                else_result,
            },
            span,
        ))
    }

    fn parse_boxed_into(&mut self, slot: &mut Option<Box<Expr>>) -> Result<(), ParseError> {
        *slot = Some(Box::new(self.parse_expr()?));
        Ok(())
    }

    /// `cond THEN result` after WHEN.
    fn parse_case_branch(&mut self, branches: &mut Vec<(Expr, Expr)>) -> Result<(), ParseError> {
        let cond = self.parse_expr()?;
        self.expect_kw("then")?;
        let result = self.parse_expr()?;
        branches.push((cond, result));
        Ok(())
    }

    /// A type name: `INTEGER`, `VARCHAR(10)`, `DOUBLE PRECISION`, `TIMESTAMP WITH TIME ZONE`,
    /// `VECTOR(3)`, ...
    pub(super) fn parse_data_type(&mut self) -> Result<DataType, ParseError> {
        let start = self.span();
        let word = match self.peek() {
            Tok::Word { text, .. } => text.clone(),
            _ => return Err(self.expected("a type name")),
        };
        self.advance();
        let kind = match word.as_str() {
            "smallint" | "int2" => TypeKind::SmallInt,
            "integer" | "int" | "int4" => TypeKind::Integer,
            "bigint" | "int8" => TypeKind::BigInt,
            "real" | "float4" => TypeKind::Real,
            "float8" => TypeKind::Double,
            "float" => match self.type_modifier()? {
                Some(p) if p <= 24 => TypeKind::Real,
                _ => TypeKind::Double,
            },
            "double" => {
                self.expect_kw("precision")?;
                TypeKind::Double
            }
            "numeric" | "decimal" | "dec" => {
                if self.eat(&Tok::LParen) {
                    let precision = Some(self.type_number()?);
                    let scale = if self.eat(&Tok::Comma) {
                        Some(self.type_number()?)
                    } else {
                        None
                    };
                    self.expect_rparen()?;
                    TypeKind::Numeric { precision, scale }
                } else {
                    TypeKind::Numeric {
                        precision: None,
                        scale: None,
                    }
                }
            }
            "text" => TypeKind::Text,
            "varchar" => TypeKind::Varchar(self.type_modifier()?),
            "character" => {
                if self.eat_kw("varying") {
                    TypeKind::Varchar(self.type_modifier()?)
                } else {
                    TypeKind::Char(self.type_modifier()?)
                }
            }
            "char" | "bpchar" => TypeKind::Char(self.type_modifier()?),
            "bytea" | "blob" => TypeKind::Blob,
            "boolean" | "bool" => TypeKind::Boolean,
            "timestamp" => {
                if self.type_modifier()?.is_some_and(|p| p > 6) {
                    return Err(
                        self.error_at(self.prev_span(), "timestamp precision must be 0 to 6")
                    );
                }
                if self.is_kw("with") && self.is_kw_at(1, "time") {
                    self.advance();
                    self.advance();
                    self.expect_kw("zone")?;
                    TypeKind::TimestampTz
                } else if self.eat_kw("without") {
                    self.expect_kw("time")?;
                    self.expect_kw("zone")?;
                    TypeKind::Timestamp
                } else {
                    TypeKind::Timestamp
                }
            }
            "timestamptz" => TypeKind::TimestampTz,
            "vector" => TypeKind::Vector(self.type_modifier()?),
            _ => {
                return Err(self.error_at(start, &format!("type {word} is not supported")));
            }
        };
        let span = start.to(self.prev_span());
        Ok(DataType {
            kind,
            text: self.text(span).to_string(),
            span,
        })
    }

    /// An optional `(n)` after a type name.
    fn type_modifier(&mut self) -> Result<Option<u32>, ParseError> {
        if !self.eat(&Tok::LParen) {
            return Ok(None);
        }
        let n = self.type_number()?;
        self.expect_rparen()?;
        Ok(Some(n))
    }

    fn type_number(&mut self) -> Result<u32, ParseError> {
        match self.peek() {
            Tok::Number(n) => match n.parse::<u32>() {
                Ok(v) => {
                    self.advance();
                    Ok(v)
                }
                Err(_) => Err(self.error_here("expected a non-negative integer type modifier")),
            },
            _ => Err(self.expected("a non-negative integer")),
        }
    }
}
