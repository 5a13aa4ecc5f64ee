//! Statements other than queries: DML, DDL, transactions, EXPLAIN, SET, SHOW.

use super::expr::P_OTHER;
use super::{ParseError, Parser, lexer::Tok};
use crate::ast::{
    AlterTable, AlterTableAction, Assignment, ColumnConstraint, ColumnConstraintKind, ColumnDef,
    ConflictAction, CreateIndex, CreateTable, CreateView, Delete, Expr, ExprKind, Ident,
    IndexColumn, Insert, InsertSource, Literal, ObjectKind, OnConflict, OptionValue, Query,
    SelectItem, SetValue, SqlOption, Statement, StatementKind, TableConstraint,
    TableConstraintKind, Update,
};

/// Statements PostgreSQL or SQLite have that this dialect deliberately does not.
const UNSUPPORTED: &[&str] = &[
    "vacuum",
    "analyze",
    "analyse",
    "truncate",
    "grant",
    "revoke",
    "copy",
    "pragma",
    "attach",
    "detach",
    "savepoint",
    "release",
    "prepare",
    "execute",
    "deallocate",
    "listen",
    "notify",
    "lock",
    "comment",
    "merge",
    "call",
    "do",
];

impl Parser<'_> {
    pub(super) fn parse_statement(&mut self) -> Result<Statement, ParseError> {
        self.enter()?;
        let start = self.span();
        let kind = self.parse_statement_kind()?;
        let span = start.to(self.prev_span());
        self.leave();
        Ok(Statement { kind, span })
    }

    fn parse_statement_kind(&mut self) -> Result<StatementKind, ParseError> {
        let word = match self.peek() {
            Tok::Word {
                text,
                quoted: false,
            } => text.clone(),
            Tok::LParen => String::new(),
            _ => return Err(self.expected("a statement")),
        };
        match word.as_str() {
            "" | "select" | "with" | "values" => self.parse_query().map(StatementKind::Query),
            "insert" | "replace" => self
                .parse_insert()
                .map(|i| StatementKind::Insert(Box::new(i))),
            "update" => self
                .parse_update()
                .map(|u| StatementKind::Update(Box::new(u))),
            "delete" => self
                .parse_delete()
                .map(|d| StatementKind::Delete(Box::new(d))),
            "create" => self.parse_create(),
            "drop" => self.parse_drop(),
            "alter" => self.parse_alter(),
            "begin" | "start" => self.parse_begin(),
            "commit" | "end" | "rollback" | "abort" => self.parse_commit_or_rollback(&word),
            "explain" => self.parse_explain(),
            "reindex" => {
                self.advance();
                let table = if self.eat_kw("table") {
                    true
                } else if self.eat_kw("index") {
                    false
                } else {
                    return Err(self.expected("INDEX or TABLE"));
                };
                Ok(StatementKind::Reindex {
                    table,
                    name: self.any_word("a name")?,
                })
            }
            "set" => self.parse_set(),
            "show" => {
                self.advance();
                Ok(StatementKind::Show {
                    name: self.dotted_name("a setting name")?,
                })
            }
            w if UNSUPPORTED.contains(&w) => {
                Err(self.error_here(&format!("{} is not supported", w.to_ascii_uppercase())))
            }
            _ => Err(self.expected("a statement")),
        }
    }

    fn parse_begin(&mut self) -> Result<StatementKind, ParseError> {
        if self.eat_kw("start") {
            self.expect_kw("transaction")?;
        } else {
            self.advance();
            if !self.eat_kw("transaction") {
                self.eat_kw("work");
            }
        }
        self.no_transaction_modes()?;
        Ok(StatementKind::Begin)
    }

    fn parse_commit_or_rollback(&mut self, word: &str) -> Result<StatementKind, ParseError> {
        self.advance();
        if !self.eat_kw("transaction") {
            self.eat_kw("work");
        }
        if self.is_kw("to") || self.is_kw("and") {
            return Err(self.error_here(&format!(
                "{} {} is not supported",
                word.to_ascii_uppercase(),
                self.describe(self.peek())
            )));
        }
        Ok(if word == "commit" || word == "end" {
            StatementKind::Commit
        } else {
            StatementKind::Rollback
        })
    }

    fn parse_explain(&mut self) -> Result<StatementKind, ParseError> {
        self.advance();
        if self.is_kw("analyze") || self.is_kw("verbose") || matches!(self.peek(), Tok::LParen) {
            return Err(self.error_here("EXPLAIN options are not supported"));
        }
        Ok(StatementKind::Explain(Box::new(self.parse_statement()?)))
    }

    fn no_transaction_modes(&self) -> Result<(), ParseError> {
        if self.is_kw("isolation") || self.is_kw("read") || self.is_kw("deferrable") {
            return Err(self.error_here("transaction modes are not supported"));
        }
        Ok(())
    }

    fn dotted_name(&mut self, what: &str) -> Result<Vec<Ident>, ParseError> {
        let mut name = vec![self.any_word(what)?];
        while self.eat(&Tok::Dot) {
            name.push(self.any_word(what)?);
        }
        Ok(name)
    }

    fn parse_set(&mut self) -> Result<StatementKind, ParseError> {
        self.advance();
        let local = self.eat_kw("local");
        if !local {
            self.eat_kw("session");
        }
        if self.is_kw("transaction") || (self.is_kw("time") && self.is_kw_at(1, "zone")) {
            return Err(self.error_here(&format!(
                "SET {} is not supported",
                self.describe(self.peek())
            )));
        }
        let name = self.dotted_name("a setting name")?;
        if !self.eat_op("=") && !self.eat_kw("to") {
            return Err(self.expected("\"=\" or TO"));
        }
        if self.is_kw("default") {
            self.advance();
            return Ok(StatementKind::Set {
                name,
                local,
                value: SetValue::Default,
            });
        }
        let mut values = vec![self.option_value()?];
        while self.eat(&Tok::Comma) {
            values.push(self.option_value()?);
        }
        Ok(StatementKind::Set {
            name,
            local,
            value: SetValue::Values(values),
        })
    }

    /// A setting value: a (signed) number, a string, TRUE/FALSE or a word.
    fn option_value(&mut self) -> Result<OptionValue, ParseError> {
        let start = self.span();
        let negative = if self.is_op("-") || self.is_op("+") {
            let neg = self.is_op("-");
            self.advance();
            if !matches!(self.peek(), Tok::Number(_)) {
                return Err(self.expected("a number"));
            }
            neg
        } else {
            false
        };
        match self.peek().clone() {
            Tok::Number(n) => {
                let span = start.to(self.advance());
                let text = if negative { format!("-{n}") } else { n };
                let lit = match text.parse::<i64>() {
                    Ok(i) => Literal::Integer(i),
                    Err(_) => Literal::Numeric(text),
                };
                Ok(OptionValue::Literal(lit, span))
            }
            Tok::Str(s) => Ok(OptionValue::Literal(Literal::String(s), self.advance())),
            Tok::Word {
                text,
                quoted: false,
            } if text == "true" || text == "false" => {
                let span = self.advance();
                Ok(OptionValue::Literal(Literal::Boolean(text == "true"), span))
            }
            Tok::Word { .. } => Ok(OptionValue::Word(self.any_word("a value")?)),
            _ => Err(self.expected("a value")),
        }
    }

    /// `WITH (name [= value], ...)`, if present.
    fn parse_with_options(&mut self) -> Result<Vec<SqlOption>, ParseError> {
        if !self.eat_kw("with") {
            return Ok(Vec::new());
        }
        self.expect_lparen()?;
        let mut out = Vec::new();
        loop {
            let name = self.dotted_name("an option name")?;
            let value = if self.eat_op("=") {
                Some(self.option_value()?)
            } else {
                None
            };
            out.push(SqlOption { name, value });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect_rparen()?;
        Ok(out)
    }

    fn parse_if_not_exists(&mut self) -> Result<bool, ParseError> {
        if self.is_kw("if") {
            self.advance();
            self.expect_kw("not")?;
            self.expect_kw("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn parse_create(&mut self) -> Result<StatementKind, ParseError> {
        self.advance();
        let or_replace = if self.eat_kw("or") {
            self.expect_kw("replace")?;
            true
        } else {
            false
        };
        if self.is_kw("temp") || self.is_kw("temporary") {
            return Err(self.error_here("temporary tables and views are not supported"));
        }
        if self.eat_kw("view") {
            let name = self.ident("a view name")?;
            let columns = if matches!(self.peek(), Tok::LParen) {
                self.ident_list_in_parens("a column name")?
            } else {
                Vec::new()
            };
            self.expect_kw("as")?;
            let query = self.parse_query()?;
            return Ok(StatementKind::CreateView(Box::new(CreateView {
                or_replace,
                name,
                columns,
                query,
            })));
        }
        if or_replace {
            return Err(self.expected("VIEW"));
        }
        if self.eat_kw("table") {
            return self.parse_create_table();
        }
        let unique = self.eat_kw("unique");
        if self.eat_kw("index") {
            return self.parse_create_index(unique);
        }
        if unique {
            return Err(self.expected("INDEX"));
        }
        if let Tok::Word {
            text,
            quoted: false,
        } = self.peek()
        {
            let known = [
                "trigger",
                "schema",
                "database",
                "sequence",
                "function",
                "type",
                "extension",
                "role",
                "user",
                "materialized",
                "virtual",
                "procedure",
            ];
            if known.contains(&text.as_str()) {
                let what = text.to_ascii_uppercase();
                return Err(self.error_here(&format!("CREATE {what} is not supported")));
            }
        }
        Err(self.expected("TABLE, INDEX or VIEW"))
    }

    fn parse_create_table(&mut self) -> Result<StatementKind, ParseError> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.ident("a table name")?;
        if self.is_kw("as") {
            return Err(self.error_here("CREATE TABLE ... AS is not supported"));
        }
        self.expect_lparen()?;
        let mut columns = Vec::new();
        let mut constraints = Vec::new();
        loop {
            let start = self.span();
            let cname = if self.eat_kw("constraint") {
                Some(self.ident("a constraint name")?)
            } else {
                None
            };
            let kind = if self.eat_kw("primary") {
                self.expect_kw("key")?;
                Some(TableConstraintKind::PrimaryKey(
                    self.ident_list_in_parens("a column name")?,
                ))
            } else if self.eat_kw("unique") {
                Some(TableConstraintKind::Unique(
                    self.ident_list_in_parens("a column name")?,
                ))
            } else if self.eat_kw("check") {
                Some(TableConstraintKind::Check(self.paren_expr()?))
            } else if self.is_kw("foreign") {
                return Err(self.error_here("foreign keys are not supported"));
            } else {
                None
            };
            match kind {
                Some(kind) => {
                    let span = start.to(self.prev_span());
                    constraints.push(TableConstraint {
                        name: cname,
                        kind,
                        span,
                    });
                }
                None if cname.is_some() => {
                    return Err(self.expected("PRIMARY KEY, UNIQUE or CHECK"));
                }
                None => columns.push(self.parse_column_def()?),
            }
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect_rparen()?;
        let options = self.parse_with_options()?;
        Ok(StatementKind::CreateTable(Box::new(CreateTable {
            if_not_exists,
            name,
            columns,
            constraints,
            options,
        })))
    }

    /// `(expr)`.
    fn paren_expr(&mut self) -> Result<Expr, ParseError> {
        self.expect_lparen()?;
        let e = self.parse_expr()?;
        self.expect_rparen()?;
        Ok(e)
    }

    fn parse_column_def(&mut self) -> Result<ColumnDef, ParseError> {
        let name = self.ident("a column name or table constraint")?;
        let data_type = self.parse_data_type()?;
        let mut constraints = Vec::new();
        loop {
            let start = self.span();
            let cname = if self.eat_kw("constraint") {
                Some(self.ident("a constraint name")?)
            } else {
                None
            };
            let kind = if self.eat_kw("primary") {
                self.expect_kw("key")?;
                ColumnConstraintKind::PrimaryKey
            } else if self.eat_kw("not") {
                self.expect_kw("null")?;
                ColumnConstraintKind::NotNull
            } else if self.eat_kw("null") {
                ColumnConstraintKind::Null
            } else if self.eat_kw("unique") {
                ColumnConstraintKind::Unique
            } else if self.eat_kw("default") {
                ColumnConstraintKind::Default(self.parse_expr_bp(P_OTHER)?)
            } else if self.eat_kw("check") {
                ColumnConstraintKind::Check(self.paren_expr()?)
            } else if self.is_kw("references") {
                return Err(self.error_here("foreign keys (REFERENCES) are not supported"));
            } else if self.is_kw("collate") {
                return Err(self.error_here("COLLATE is not supported"));
            } else if self.is_kw("generated") {
                return Err(self.error_here("generated columns are not supported"));
            } else if cname.is_some() {
                return Err(self.expected("PRIMARY KEY, NOT NULL, NULL, UNIQUE, DEFAULT or CHECK"));
            } else {
                break;
            };
            let span = start.to(self.prev_span());
            constraints.push(ColumnConstraint {
                name: cname,
                kind,
                span,
            });
        }
        let span = name.span.to(self.prev_span());
        Ok(ColumnDef {
            name,
            data_type,
            constraints,
            span,
        })
    }

    fn parse_create_index(&mut self, unique: bool) -> Result<StatementKind, ParseError> {
        if self.is_kw("concurrently") {
            return Err(self.error_here("CREATE INDEX CONCURRENTLY is not supported"));
        }
        let if_not_exists = self.parse_if_not_exists()?;
        let name = if self.is_kw("on") {
            None
        } else {
            Some(self.ident("an index name")?)
        };
        if if_not_exists && name.is_none() {
            return Err(self.expected("an index name"));
        }
        self.expect_kw("on")?;
        self.eat_kw("only");
        let table = self.ident("a table name")?;
        let method = if self.eat_kw("using") {
            Some(self.ident("an index method")?)
        } else {
            None
        };
        self.expect_lparen()?;
        let mut columns = Vec::new();
        loop {
            let expr = if matches!(self.peek(), Tok::LParen) {
                self.paren_expr()?
            } else if self.at_ident() && matches!(self.peek_at(1), Tok::LParen) {
                // A function call such as lower(name).
                self.parse_expr_bp(u8::MAX)?
            } else {
                let column = self.ident("a column name or \"(\"")?;
                let span = column.span;
                Expr {
                    kind: ExprKind::Column {
                        table: None,
                        column,
                    },
                    span,
                }
            };
            let opclass = if self.at_ident() && !self.is_kw("nulls") {
                Some(self.ident("an operator class")?)
            } else {
                None
            };
            let (asc, nulls_first) = self.parse_ordering()?;
            columns.push(IndexColumn {
                expr,
                opclass,
                asc,
                nulls_first,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect_rparen()?;
        if self.is_kw("include") {
            return Err(self.error_here("INCLUDE is not supported"));
        }
        let options = self.parse_with_options()?;
        if self.is_kw("where") {
            return Err(self.error_here("partial indexes (WHERE) are not supported"));
        }
        Ok(StatementKind::CreateIndex(Box::new(CreateIndex {
            unique,
            if_not_exists,
            name,
            table,
            method,
            columns,
            options,
        })))
    }

    fn parse_drop(&mut self) -> Result<StatementKind, ParseError> {
        self.advance();
        let object = if self.eat_kw("table") {
            ObjectKind::Table
        } else if self.eat_kw("index") {
            ObjectKind::Index
        } else if self.eat_kw("view") {
            ObjectKind::View
        } else {
            if let Tok::Word {
                text,
                quoted: false,
            } = self.peek()
                && [
                    "trigger",
                    "schema",
                    "database",
                    "sequence",
                    "function",
                    "type",
                    "extension",
                ]
                .contains(&text.as_str())
            {
                let what = text.to_ascii_uppercase();
                return Err(self.error_here(&format!("DROP {what} is not supported")));
            }
            return Err(self.expected("TABLE, INDEX or VIEW"));
        };
        let if_exists = if self.eat_kw("if") {
            self.expect_kw("exists")?;
            true
        } else {
            false
        };
        let mut names = vec![self.ident("a name")?];
        while self.eat(&Tok::Comma) {
            names.push(self.ident("a name")?);
        }
        if self.is_kw("cascade") {
            return Err(self.error_here("DROP ... CASCADE is not supported"));
        }
        self.eat_kw("restrict");
        Ok(StatementKind::Drop {
            object,
            if_exists,
            names,
        })
    }

    fn parse_alter(&mut self) -> Result<StatementKind, ParseError> {
        self.advance();
        if self.eat_kw("database") {
            if !self.is_kw("set") {
                // The database's name: there is one, whatever it is called.
                self.any_word("a database name or SET")?;
            }
            self.expect_kw("set")?;
            let name = self.dotted_name("a setting name")?;
            if !self.eat_op("=") && !self.eat_kw("to") {
                return Err(self.expected("\"=\" or TO"));
            }
            let value = if self.eat_kw("default") {
                SetValue::Default
            } else {
                SetValue::Values(vec![self.option_value()?])
            };
            return Ok(StatementKind::AlterDatabase { name, value });
        }
        self.expect_kw("table")?;
        if self.is_kw("if") {
            return Err(self.error_here("ALTER TABLE IF EXISTS is not supported"));
        }
        let table = self.ident("a table name")?;
        let action = if self.eat_kw("add") {
            if self.is_kw("constraint")
                || self.is_kw("primary")
                || self.is_kw("unique")
                || self.is_kw("check")
                || self.is_kw("foreign")
            {
                return Err(self.error_here("ALTER TABLE ADD CONSTRAINT is not supported"));
            }
            self.eat_kw("column");
            let if_not_exists = self.parse_if_not_exists()?;
            AlterTableAction::AddColumn {
                if_not_exists,
                column: self.parse_column_def()?,
            }
        } else if self.eat_kw("rename") {
            if self.eat_kw("to") {
                AlterTableAction::RenameTable(self.ident("a table name")?)
            } else {
                self.eat_kw("column");
                let old = self.ident("a column name")?;
                self.expect_kw("to")?;
                let new = self.ident("a column name")?;
                AlterTableAction::RenameColumn { old, new }
            }
        } else if self.eat_kw("alter") {
            self.eat_kw("column");
            let column = self.ident("a column name")?;
            if !(self.eat_kw("set") && self.eat_kw("compression")) {
                return Err(
                    self.error_here("ALTER COLUMN supports only SET COMPRESSION fsst | lz4 | none")
                );
            }
            let compression = match self.peek() {
                Tok::Word { text, .. } if ["fsst", "lz4", "none"].contains(&text.as_str()) => {
                    text.clone()
                }
                _ => return Err(self.expected("fsst, lz4 or none")),
            };
            self.advance();
            AlterTableAction::SetCompression {
                column,
                compression,
            }
        } else {
            if let Tok::Word {
                text,
                quoted: false,
            } = self.peek()
                && ["drop", "set", "owner"].contains(&text.as_str())
            {
                let what = text.to_ascii_uppercase();
                return Err(self.error_here(&format!("ALTER TABLE {what} is not supported")));
            }
            return Err(self.expected("ADD, RENAME or ALTER COLUMN"));
        };
        Ok(StatementKind::AlterTable(Box::new(AlterTable {
            table,
            action,
        })))
    }

    fn parse_insert(&mut self) -> Result<Insert, ParseError> {
        let is_replace = self.is_kw("replace");
        let replace_span = self.advance();
        let mut on_conflict = None;
        if is_replace {
            on_conflict = Some(OnConflict {
                target: vec![],
                action: ConflictAction::Replace,
                span: replace_span,
            });
        } else if self.eat_kw("or") {
            let action = if self.eat_kw("replace") {
                ConflictAction::Replace
            } else if self.eat_kw("ignore") {
                ConflictAction::Nothing
            } else {
                return Err(self.expected("REPLACE or IGNORE"));
            };
            let span = replace_span.to(self.prev_span());
            on_conflict = Some(OnConflict {
                target: vec![],
                action,
                span,
            });
        }
        self.expect_kw("into")?;
        let table = self.ident("a table name")?;
        self.refuse_write_in_the_past()?;
        if self.is_kw("as") {
            return Err(self.error_here("INSERT target aliases are not supported"));
        }
        // `(` starts a column list unless a query follows.
        let columns = if matches!(self.peek(), Tok::LParen) && !self.query_follows_parens() {
            self.ident_list_in_parens("a column name")?
        } else {
            Vec::new()
        };
        let source = if self.is_kw("default") && self.is_kw_at(1, "values") {
            self.advance();
            self.advance();
            InsertSource::DefaultValues
        } else if self.is_kw("values") {
            let start = self.span();
            let body = self.parse_set_expr(0, true)?;
            if self.is_kw("order") || self.is_kw("limit") || self.is_kw("offset") {
                return Err(self.error_here(
                    "ORDER BY, LIMIT or OFFSET after INSERT ... VALUES is not supported",
                ));
            }
            let span = start.to(self.prev_span());
            InsertSource::Query(Box::new(Query {
                with: vec![],
                body,
                order_by: vec![],
                limit: None,
                offset: None,
                span,
            }))
        } else {
            InsertSource::Query(self.parse_query()?)
        };
        if self.is_kw("on") {
            let start = self.advance();
            if on_conflict.is_some() {
                return Err(self.error_at(start, "ON CONFLICT cannot be combined with OR REPLACE"));
            }
            self.expect_kw("conflict")?;
            let target = if matches!(self.peek(), Tok::LParen) {
                self.ident_list_in_parens("a column name")?
            } else if self.is_kw("on") {
                return Err(self.error_here("ON CONFLICT ON CONSTRAINT is not supported"));
            } else {
                Vec::new()
            };
            self.expect_kw("do")?;
            let action = if self.eat_kw("nothing") {
                ConflictAction::Nothing
            } else if self.eat_kw("update") {
                if target.is_empty() {
                    return Err(self.error_at(
                        self.prev_span(),
                        "ON CONFLICT DO UPDATE needs a conflict target, e.g. ON CONFLICT (id)",
                    ));
                }
                self.expect_kw("set")?;
                let assignments = self.parse_assignments()?;
                let selection = if self.eat_kw("where") {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                ConflictAction::Update {
                    assignments,
                    selection,
                }
            } else {
                return Err(self.expected("NOTHING or UPDATE"));
            };
            let span = start.to(self.prev_span());
            on_conflict = Some(OnConflict {
                target,
                action,
                span,
            });
        }
        let returning = self.parse_returning()?;
        Ok(Insert {
            table,
            columns,
            source,
            on_conflict,
            returning,
        })
    }

    fn parse_assignments(&mut self) -> Result<Vec<Assignment>, ParseError> {
        let mut out = Vec::new();
        loop {
            if matches!(self.peek(), Tok::LParen) {
                return Err(self.error_here("SET (a, b) = ... is not supported"));
            }
            let column = self.ident("a column name")?;
            if matches!(self.peek(), Tok::Dot) {
                return Err(self.error_here("qualified column names are not allowed in SET"));
            }
            if !self.eat_op("=") {
                return Err(self.expected("\"=\""));
            }
            let value = if self.is_kw("default") {
                let span = self.advance();
                Expr {
                    kind: ExprKind::Default,
                    span,
                }
            } else {
                self.parse_expr()?
            };
            out.push(Assignment { column, value });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(out)
    }

    fn parse_returning(&mut self) -> Result<Vec<SelectItem>, ParseError> {
        let mut items = Vec::new();
        if self.eat_kw("returning") {
            loop {
                items.push(self.parse_select_item()?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        Ok(items)
    }

    /// Writes go to the present: `AS OF` on a write's target is refused.
    fn refuse_write_in_the_past(&self) -> Result<(), ParseError> {
        if (self.is_kw("as") && self.is_kw_at(1, "of"))
            || (self.is_kw("for") && self.is_kw_at(1, "system_time"))
            || (self.is_kw("versions") && self.is_kw_at(1, "between"))
        {
            return Err(self.error_here(
                "writes cannot be made as of a past time: history is read-only (to restore \
                 old rows, INSERT INTO t SELECT ... FROM t AS OF ...)",
            ));
        }
        Ok(())
    }

    fn parse_update(&mut self) -> Result<Update, ParseError> {
        self.advance();
        self.eat_kw("only");
        let table = self.ident("a table name")?;
        self.refuse_write_in_the_past()?;
        if !self.is_kw("set") {
            if self.is_kw("as") || self.at_ident() {
                return Err(self.error_here("UPDATE target aliases are not supported"));
            }
            return Err(self.expected("SET"));
        }
        self.advance();
        let assignments = self.parse_assignments()?;
        if self.is_kw("from") {
            return Err(self.error_here("UPDATE ... FROM is not supported"));
        }
        let selection = if self.eat_kw("where") {
            Some(self.parse_expr()?)
        } else {
            None
        };
        let returning = self.parse_returning()?;
        Ok(Update {
            table,
            assignments,
            selection,
            returning,
        })
    }

    fn parse_delete(&mut self) -> Result<Delete, ParseError> {
        self.advance();
        self.expect_kw("from")?;
        self.eat_kw("only");
        let table = self.ident("a table name")?;
        self.refuse_write_in_the_past()?;
        if self.is_kw("as") || self.at_ident() {
            return Err(self.error_here("DELETE target aliases are not supported"));
        }
        if self.is_kw("using") {
            return Err(self.error_here("DELETE ... USING is not supported"));
        }
        let selection = if self.eat_kw("where") {
            Some(self.parse_expr()?)
        } else {
            None
        };
        let returning = self.parse_returning()?;
        Ok(Delete {
            table,
            selection,
            returning,
        })
    }
}
