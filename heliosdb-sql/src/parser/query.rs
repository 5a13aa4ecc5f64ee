//! Queries: WITH, SELECT, VALUES, set operations, FROM items, ORDER BY, LIMIT, OFFSET.

use super::expr::P_OTHER;
use super::{ParseError, Parser, lexer::Tok};
use crate::ast::{
    Cte, Expr, ExprKind, Ident, JoinConstraint, JoinKind, OrderByItem, Query, Select, SelectItem,
    SetExpr, SetOperator, TableAlias, TableRef, TimePoint, TimeTravel, Values,
};

impl Parser<'_> {
    /// `[WITH ...] body [ORDER BY ...] [LIMIT ...] [OFFSET ...]`.
    ///
    /// This and the other functions on the parser's recursive paths are split into small
    /// pieces: unoptimized builds give every temporary its own stack slot, so a large
    /// function on the path multiplies the stack each nesting level costs.
    pub(super) fn parse_query(&mut self) -> Result<Box<Query>, ParseError> {
        self.enter()?;
        let start = self.span();
        let with = self.parse_with_clause()?;
        let body = self.parse_set_expr(0, false)?;
        let mut query = self.parse_query_tail(with, body)?;
        query.span = start.to(self.prev_span());
        self.leave();
        Ok(query)
    }

    fn parse_with_clause(&mut self) -> Result<Vec<Cte>, ParseError> {
        let mut with = Vec::new();
        if self.eat_kw("with") {
            if self.is_kw("recursive") {
                return Err(self.error_here("WITH RECURSIVE is not supported"));
            }
            loop {
                with.push(self.parse_cte()?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        Ok(with)
    }

    /// ORDER BY, LIMIT and OFFSET (in either order) after a query body.
    fn parse_query_tail(
        &mut self,
        with: Vec<Cte>,
        body: SetExpr,
    ) -> Result<Box<Query>, ParseError> {
        let order_by = if self.is_kw("order") {
            self.parse_order_by()?
        } else {
            Vec::new()
        };
        let (mut limit, mut offset) = (None, None);
        let (mut seen_limit, mut seen_offset) = (false, false);
        loop {
            if !seen_limit && self.eat_kw("limit") {
                seen_limit = true;
                if !self.eat_kw("all") {
                    limit = Some(self.parse_expr()?);
                }
                if matches!(self.peek(), Tok::Comma) {
                    return Err(
                        self.error_here("LIMIT a, b is not supported; use LIMIT b OFFSET a")
                    );
                }
            } else if !seen_offset && self.eat_kw("offset") {
                seen_offset = true;
                offset = Some(self.parse_expr()?);
                if !self.eat_kw("row") {
                    self.eat_kw("rows");
                }
            } else {
                break;
            }
        }
        if self.is_kw("fetch") {
            return Err(self.error_here("FETCH is not supported; use LIMIT"));
        }
        if self.is_kw("for") {
            return Err(self.error_here("locking clauses (FOR UPDATE, ...) are not supported"));
        }
        let span = self.prev_span();
        Ok(Box::new(Query {
            with,
            body,
            order_by,
            limit,
            offset,
            span,
        }))
    }

    fn parse_cte(&mut self) -> Result<Cte, ParseError> {
        let name = self.ident("a name for the WITH query")?;
        let columns = if matches!(self.peek(), Tok::LParen) {
            self.ident_list_in_parens("a column name")?
        } else {
            Vec::new()
        };
        self.expect_kw("as")?;
        if self.is_kw("materialized") || (self.is_kw("not") && self.is_kw_at(1, "materialized")) {
            return Err(self.error_here("MATERIALIZED is not supported"));
        }
        self.expect_lparen()?;
        let query = self.parse_query()?;
        let end = self.expect_rparen()?;
        let span = name.span.to(end);
        Ok(Cte {
            name,
            columns,
            query,
            span,
        })
    }

    /// Set operations by precedence: INTERSECT binds tighter than UNION and EXCEPT, and all
    /// are left-associative. `allow_default` lets VALUES rows hold DEFAULT (INSERT).
    pub(super) fn parse_set_expr(
        &mut self,
        min: u8,
        allow_default: bool,
    ) -> Result<SetExpr, ParseError> {
        let mut left = self.parse_set_primary(allow_default)?;
        loop {
            let (op, prec) = if self.is_kw("union") {
                (SetOperator::Union, 1)
            } else if self.is_kw("except") {
                (SetOperator::Except, 1)
            } else if self.is_kw("intersect") {
                (SetOperator::Intersect, 2)
            } else {
                break;
            };
            if prec < min {
                break;
            }
            let start = set_expr_span(&left);
            self.advance();
            let all = self.eat_kw("all");
            if !all {
                self.eat_kw("distinct");
            }
            let right = self.parse_set_expr(prec + 1, false)?;
            let span = start.to(self.prev_span());
            left = SetExpr::SetOperation {
                op,
                all,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        Ok(left)
    }

    fn parse_set_primary(&mut self, allow_default: bool) -> Result<SetExpr, ParseError> {
        if self.is_kw("select") {
            self.parse_select()
        } else if self.is_kw("values") {
            self.parse_values(allow_default).map(SetExpr::Values)
        } else if matches!(self.peek(), Tok::LParen) {
            self.parse_paren_set_primary()
        } else if self.is_kw("table") {
            Err(self.error_here("TABLE name is not supported; use SELECT * FROM name"))
        } else {
            Err(self.expected("SELECT, VALUES or \"(\""))
        }
    }

    fn parse_paren_set_primary(&mut self) -> Result<SetExpr, ParseError> {
        self.advance();
        let q = self.parse_query()?;
        self.expect_rparen()?;
        Ok(SetExpr::Query(q))
    }

    /// `VALUES (...), (...)`.
    pub(super) fn parse_values(&mut self, allow_default: bool) -> Result<Values, ParseError> {
        let start = self.advance();
        let mut rows = Vec::new();
        loop {
            self.expect_lparen()?;
            let mut row = Vec::new();
            loop {
                if allow_default
                    && self.is_kw("default")
                    && matches!(self.peek_at(1), Tok::Comma | Tok::RParen)
                {
                    let span = self.advance();
                    row.push(Expr {
                        kind: ExprKind::Default,
                        span,
                    });
                } else {
                    row.push(self.parse_expr()?);
                }
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect_rparen()?;
            rows.push(row);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(Values {
            rows,
            span: start.to(self.prev_span()),
        })
    }

    fn parse_select(&mut self) -> Result<SetExpr, ParseError> {
        let start = self.advance();
        let mut select = Box::new(Select {
            distinct: self.parse_distinct()?,
            items: Vec::new(),
            from: Vec::new(),
            selection: None,
            group_by: Vec::new(),
            having: None,
            span: start,
        });
        self.parse_select_items(&mut select.items)?;
        if self.is_kw("into") {
            return Err(self.error_here("SELECT INTO is not supported; use CREATE TABLE ... AS"));
        }
        if self.eat_kw("from") {
            self.parse_from_items(&mut select.from)?;
        }
        if self.eat_kw("where") {
            self.parse_expr_into(&mut select.selection)?;
        }
        if self.eat_kw("group") {
            self.expect_kw("by")?;
            self.parse_expr_list_into(&mut select.group_by)?;
        }
        if self.eat_kw("having") {
            self.parse_expr_into(&mut select.having)?;
        }
        if self.is_kw("window") {
            return Err(self.error_here("WINDOW is not supported"));
        }
        select.span = start.to(self.prev_span());
        Ok(SetExpr::Select(select))
    }

    fn parse_distinct(&mut self) -> Result<bool, ParseError> {
        if self.eat_kw("distinct") {
            if self.is_kw("on") {
                return Err(self.error_here("DISTINCT ON is not supported"));
            }
            return Ok(true);
        }
        self.eat_kw("all");
        Ok(false)
    }

    fn parse_select_items(&mut self, items: &mut Vec<SelectItem>) -> Result<(), ParseError> {
        loop {
            items.push(self.parse_select_item()?);
            if !self.eat(&Tok::Comma) {
                return Ok(());
            }
        }
    }

    fn parse_from_items(&mut self, from: &mut Vec<TableRef>) -> Result<(), ParseError> {
        loop {
            from.push(self.parse_table_ref()?);
            if !self.eat(&Tok::Comma) {
                return Ok(());
            }
        }
    }

    /// Parses an expression into `slot` (keeps the caller's frame small).
    pub(super) fn parse_expr_into(&mut self, slot: &mut Option<Expr>) -> Result<(), ParseError> {
        *slot = Some(self.parse_expr()?);
        Ok(())
    }

    pub(super) fn parse_expr_list_into(&mut self, list: &mut Vec<Expr>) -> Result<(), ParseError> {
        loop {
            list.push(self.parse_expr()?);
            if !self.eat(&Tok::Comma) {
                return Ok(());
            }
        }
    }

    /// A select-list or RETURNING item.
    pub(super) fn parse_select_item(&mut self) -> Result<SelectItem, ParseError> {
        if self.is_op("*") {
            return Ok(SelectItem::Wildcard(self.advance()));
        }
        if matches!(self.peek(), Tok::Word { .. })
            && matches!(self.peek_at(1), Tok::Dot)
            && matches!(self.peek_at(2), Tok::Op(o) if o == "*")
        {
            let table = self.any_word("a table name")?;
            self.advance();
            let end = self.advance();
            let span = table.span.to(end);
            return Ok(SelectItem::QualifiedWildcard(table, span));
        }
        let expr = self.parse_expr()?;
        let alias = self.parse_column_alias()?;
        Ok(SelectItem::Expr { expr, alias })
    }

    fn parse_column_alias(&mut self) -> Result<Option<Ident>, ParseError> {
        if self.eat_kw("as") {
            Ok(Some(self.any_word("an alias")?))
        } else if self.at_ident() {
            Ok(Some(self.ident("an alias")?))
        } else {
            Ok(None)
        }
    }

    /// `ORDER BY item, ...`.
    fn parse_order_by(&mut self) -> Result<Vec<OrderByItem>, ParseError> {
        self.advance();
        self.expect_kw("by")?;
        let mut items = Vec::new();
        loop {
            let expr = self.parse_expr()?;
            let (asc, nulls_first) = self.parse_ordering()?;
            items.push(OrderByItem {
                expr,
                asc,
                nulls_first,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(items)
    }

    /// `[ASC | DESC] [NULLS FIRST | LAST]`.
    pub(super) fn parse_ordering(&mut self) -> Result<(Option<bool>, Option<bool>), ParseError> {
        let asc = if self.eat_kw("asc") {
            Some(true)
        } else if self.eat_kw("desc") {
            Some(false)
        } else {
            None
        };
        if self.is_kw("using") {
            return Err(self.error_here("ORDER BY ... USING is not supported"));
        }
        let nulls_first = if self.eat_kw("nulls") {
            if self.eat_kw("first") {
                Some(true)
            } else if self.eat_kw("last") {
                Some(false)
            } else {
                return Err(self.expected("FIRST or LAST"));
            }
        } else {
            None
        };
        Ok((asc, nulls_first))
    }

    /// A FROM item with its joins.
    fn parse_table_ref(&mut self) -> Result<TableRef, ParseError> {
        self.enter()?;
        let mut left = self.parse_table_primary()?;
        while let Some(kind) = self.parse_join_kind()? {
            left = self.parse_join(left, kind)?;
        }
        self.leave();
        Ok(left)
    }

    /// The join keywords up to and including JOIN, if a join follows.
    fn parse_join_kind(&mut self) -> Result<Option<JoinKind>, ParseError> {
        let kind = if self.eat_kw("cross") {
            JoinKind::Cross
        } else if self.is_kw("join") || self.eat_kw("inner") {
            JoinKind::Inner
        } else if self.eat_kw("left") {
            JoinKind::Left
        } else if self.eat_kw("right") {
            JoinKind::Right
        } else if self.eat_kw("full") {
            JoinKind::Full
        } else if self.is_kw("natural") {
            return Err(self.error_here("NATURAL JOIN is not supported; use USING"));
        } else {
            return Ok(None);
        };
        if matches!(kind, JoinKind::Left | JoinKind::Right | JoinKind::Full) {
            self.eat_kw("outer");
        }
        self.expect_kw("join")?;
        Ok(Some(kind))
    }

    /// The right side and condition of a join.
    fn parse_join(&mut self, left: TableRef, kind: JoinKind) -> Result<TableRef, ParseError> {
        let right = Box::new(self.parse_table_primary()?);
        let constraint = if kind == JoinKind::Cross {
            JoinConstraint::None
        } else if self.eat_kw("on") {
            JoinConstraint::On(self.parse_expr()?)
        } else if self.eat_kw("using") {
            JoinConstraint::Using(self.ident_list_in_parens("a column name")?)
        } else {
            return Err(self.expected("ON or USING"));
        };
        let span = left.span().to(self.prev_span());
        Ok(TableRef::Join {
            left: Box::new(left),
            right,
            kind,
            constraint,
            span,
        })
    }

    fn parse_table_primary(&mut self) -> Result<TableRef, ParseError> {
        if matches!(self.peek(), Tok::LParen) {
            return self.parse_paren_table();
        }
        if self.is_kw("lateral") {
            return Err(self.error_here("LATERAL is not supported"));
        }
        let start = self.span();
        let name = self.ident("a table name")?;
        if matches!(self.peek(), Tok::Dot) {
            return Err(self.error_here("schema-qualified names are not supported"));
        }
        if matches!(self.peek(), Tok::LParen) {
            return self.parse_table_function(name, start);
        }
        self.parse_table_rest(name, start)
    }

    /// After a table's name: its time clause and alias, in either order. Kept out of
    /// `parse_table_primary`, which is on the recursive path (its frame size counts).
    #[inline(never)]
    fn parse_table_rest(
        &mut self,
        name: Ident,
        start: crate::ast::Span,
    ) -> Result<TableRef, ParseError> {
        let mut time = self.parse_time_travel()?;
        let alias = self.parse_table_alias()?;
        if time.is_none() {
            time = self.parse_time_travel()?;
        }
        let span = start.to(self.prev_span());
        Ok(TableRef::Table {
            name,
            alias,
            time: time.map(Box::new),
            span,
        })
    }

    /// `name(args) [alias]`, at the `(`.
    #[inline(never)]
    fn parse_table_function(
        &mut self,
        name: Ident,
        start: crate::ast::Span,
    ) -> Result<TableRef, ParseError> {
        self.advance();
        let mut args = Vec::new();
        if !matches!(self.peek(), Tok::RParen) {
            self.parse_expr_list_into(&mut args)?;
        }
        self.expect_rparen()?;
        let alias = self.parse_table_alias()?;
        let span = start.to(self.prev_span());
        Ok(TableRef::Function {
            name,
            args,
            alias,
            span,
        })
    }

    /// `AS OF point`, `VERSIONS BETWEEN point AND point`, or SQL:2011's `FOR SYSTEM_TIME
    /// AS OF point | BETWEEN point AND point`, if one follows.
    fn parse_time_travel(&mut self) -> Result<Option<TimeTravel>, ParseError> {
        if self.is_kw("as") && self.is_kw_at(1, "of") {
            self.advance();
            self.advance();
            return Ok(Some(TimeTravel::AsOf(self.parse_time_point(true)?)));
        }
        if self.is_kw("versions") && self.is_kw_at(1, "between") {
            self.advance();
            self.advance();
            return self.parse_time_window(true).map(Some);
        }
        if self.is_kw("for") && self.is_kw_at(1, "system_time") {
            self.advance();
            self.advance();
            if self.eat_kw("as") {
                self.expect_kw("of")?;
                return Ok(Some(TimeTravel::AsOf(self.parse_time_point(false)?)));
            }
            if self.eat_kw("between") {
                return self.parse_time_window(false).map(Some);
            }
            return Err(self.expected("AS OF or BETWEEN"));
        }
        Ok(None)
    }

    fn parse_time_window(&mut self, keyword: bool) -> Result<TimeTravel, ParseError> {
        let from = self.parse_time_point(keyword)?;
        self.expect_kw("and")?;
        let to = self.parse_time_point(keyword)?;
        Ok(TimeTravel::Versions { from, to })
    }

    /// `TIMESTAMP expr` or `TRANSACTION expr`; after FOR SYSTEM_TIME the keyword may be
    /// left out (the expression is then a time).
    fn parse_time_point(&mut self, keyword: bool) -> Result<TimePoint, ParseError> {
        if self.eat_kw("transaction") {
            return Ok(TimePoint::Transaction(self.parse_expr_bp(P_OTHER)?));
        }
        if keyword && !self.is_kw("timestamp") {
            return Err(self.expected("TIMESTAMP or TRANSACTION"));
        }
        // `TIMESTAMP 'text'` reads as a typed literal; `TIMESTAMP expr` as the expression.
        if self.is_kw("timestamp") && !matches!(self.peek_at(1), Tok::Str(_)) {
            self.advance();
        }
        Ok(TimePoint::Timestamp(self.parse_expr_bp(P_OTHER)?))
    }

    /// `(query) [AS] alias` or a parenthesized join.
    fn parse_paren_table(&mut self) -> Result<TableRef, ParseError> {
        if self.query_starts_at(1) {
            return self.parse_table_subquery();
        }
        if self.query_follows_parens()
            && let Some(t) = self.try_subquery(Self::parse_table_subquery)?
        {
            return Ok(t);
        }
        self.advance();
        let inner = self.parse_table_ref()?;
        self.expect_rparen()?;
        if self.is_kw("as") || self.at_ident() {
            return Err(self.error_here("aliases on parenthesized joins are not supported"));
        }
        Ok(inner)
    }

    fn parse_table_subquery(&mut self) -> Result<TableRef, ParseError> {
        let start = self.advance();
        let query = self.parse_query()?;
        self.expect_rparen()?;
        let alias = self.parse_table_alias()?;
        let span = start.to(self.prev_span());
        Ok(TableRef::Subquery { query, alias, span })
    }

    fn parse_table_alias(&mut self) -> Result<Option<TableAlias>, ParseError> {
        if !self.eat_kw("as") && !self.at_ident() {
            return Ok(None);
        }
        let name = self.ident("an alias")?;
        let columns = if matches!(self.peek(), Tok::LParen) {
            self.ident_list_in_parens("a column alias")?
        } else {
            Vec::new()
        };
        Ok(Some(TableAlias { name, columns }))
    }
}

fn set_expr_span(e: &SetExpr) -> crate::ast::Span {
    match e {
        SetExpr::Select(s) => s.span,
        SetExpr::Values(v) => v.span,
        SetExpr::Query(q) => q.span,
        SetExpr::SetOperation { span, .. } => *span,
    }
}
