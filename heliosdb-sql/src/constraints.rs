//! DEFAULT and CHECK: kept as SQL text in the table's `sql` extension of core's catalog
//! (core stores it opaquely and replicates it with the schema), bound and evaluated here.
//!
//! Extension format, version 1: `u8 1` followed by the postcard encoding of [`SqlTableMeta`].

use heliosdb_core::{TableSchema, Value, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::ast::{self, ExprKind, SelectItem, SetExpr, StatementKind};
use crate::bind::{BindError, Binder, Scope, ScopeColumn};
use crate::exec::Executor;
use crate::plan::Expr;
use crate::values;

/// The extension key the SQL layer owns.
pub const EXTENSION: &str = "sql";
const FORMAT: u8 = 1;

/// What the SQL layer keeps about a table beyond core's schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqlTableMeta {
    /// `(column name, default expression as SQL)`.
    pub defaults: Vec<(String, String)>,
    /// `(constraint name, condition as SQL)`.
    pub checks: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConstraintError {
    #[error("new row for relation \"{table}\" violates check constraint \"{name}\"")]
    Check { table: String, name: String },
    #[error("the SQL metadata of table {0} is damaged: {1}")]
    Damaged(String, String),
    #[error("{0}")]
    Bind(#[from] BindError),
    #[error(transparent)]
    Exec(#[from] crate::error::Error),
}

impl SqlTableMeta {
    pub fn of(table: &TableSchema) -> Result<SqlTableMeta, ConstraintError> {
        let Some(bytes) = table.extensions.get(EXTENSION) else {
            return Ok(SqlTableMeta::default());
        };
        let damaged = |why: String| ConstraintError::Damaged(table.name.clone(), why);
        match bytes.split_first() {
            Some((&FORMAT, body)) => postcard::from_bytes(body).map_err(|e| damaged(e.to_string())),
            Some((v, _)) => Err(damaged(format!(
                "format {v} is newer than this build reads"
            ))),
            None => Err(damaged("empty".into())),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.checks.is_empty()
    }

    /// Stores it with the table (or removes it when empty).
    pub fn save(&self, w: &mut WriteTxn, table: &str) -> Result<(), heliosdb_core::Error> {
        let value = (!self.is_empty()).then(|| {
            let mut bytes = vec![FORMAT];
            // Serializing plain structs into a Vec cannot fail.
            bytes.extend(postcard::to_stdvec(self).unwrap_or_default());
            bytes
        });
        w.set_table_extension(table, EXTENSION, value)
    }

    pub fn default_sql(&self, column: &str) -> Option<&str> {
        self.defaults
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, sql)| sql.as_str())
    }
}

/// Parses stored expression text back into an expression.
pub fn parse_expr(sql: &str) -> Result<ast::Expr, ConstraintError> {
    let damaged = |why: String| ConstraintError::Damaged(String::new(), format!("{sql}: {why}"));
    let stmt =
        crate::parser::parse_one(&format!("SELECT {sql}")).map_err(|e| damaged(e.to_string()))?;
    if let StatementKind::Query(q) = stmt.kind
        && let SetExpr::Select(select) = q.body
        && let Some(SelectItem::Expr { expr, .. }) = select.items.into_iter().next()
    {
        return Ok(expr);
    }
    Err(damaged("not an expression".into()))
}

/// The scope of a table's row, for CHECK conditions.
pub fn row_scope(table: &TableSchema) -> Scope {
    Scope {
        columns: table
            .columns
            .iter()
            .map(|c| ScopeColumn {
                table: Some(table.name.clone()),
                name: c.name.clone(),
                ty: Some(c.data_type),
            })
            .collect(),
    }
}

/// A table's DEFAULTs and CHECKs, bound once per statement.
pub struct Bound {
    table: String,
    /// Per column: its default, if any.
    defaults: Vec<Option<Expr>>,
    checks: Vec<(String, Expr)>,
}

impl Bound {
    pub fn new(w: &WriteTxn, table: &TableSchema) -> Result<Bound, ConstraintError> {
        let meta = SqlTableMeta::of(table)?;
        let mut binder = Binder::new(w.catalog());
        let mut defaults = Vec::with_capacity(table.columns.len());
        for c in &table.columns {
            defaults.push(match meta.default_sql(&c.name) {
                Some(sql) => Some(binder.scalar(&parse_expr(sql)?, &Scope::default())?.0),
                None => None,
            });
        }
        let scope = row_scope(table);
        let mut checks = Vec::with_capacity(meta.checks.len());
        for (name, sql) in &meta.checks {
            checks.push((
                name.clone(),
                binder.predicate(&parse_expr(sql)?, &scope, "CHECK")?,
            ));
        }
        Ok(Bound {
            table: table.name.clone(),
            defaults,
            checks,
        })
    }

    /// The value column `at` gets when the statement does not give one.
    pub fn default_value(
        &self,
        ex: &Executor<'_>,
        at: usize,
        ty: heliosdb_core::DataType,
    ) -> Result<Value, ConstraintError> {
        match self.defaults.get(at).and_then(Option::as_ref) {
            Some(e) => {
                let v = ex.eval(e, &[])?;
                if v.is_null() || v.fits(ty) {
                    Ok(v)
                } else {
                    Ok(values::cast(&v, ty).map_err(crate::error::Error::from)?)
                }
            }
            None => Ok(Value::Null),
        }
    }

    /// Fails if the row breaks a CHECK (a NULL result passes, as in SQL).
    pub fn check(&self, ex: &Executor<'_>, row: &[Value]) -> Result<(), ConstraintError> {
        for (name, cond) in &self.checks {
            if values::truth(&ex.eval(cond, row)?).map_err(crate::error::Error::from)?
                == Some(false)
            {
                return Err(ConstraintError::Check {
                    table: self.table.clone(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn has_checks(&self) -> bool {
        !self.checks.is_empty()
    }
}

/// Whether an expression is `DEFAULT` (allowed as an INSERT VALUES item).
pub fn is_default(e: &ast::Expr) -> bool {
    matches!(e.kind, ExprKind::Default)
}
