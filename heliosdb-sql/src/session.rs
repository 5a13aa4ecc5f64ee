//! A session: runs SQL text statement by statement with PostgreSQL's transaction rules.
//!
//! Outside `BEGIN`, every statement is its own transaction: queries read a snapshot,
//! everything else commits on success and leaves no trace on failure. Inside `BEGIN`, all
//! statements share one write transaction; a failing statement aborts it, and until
//! `ROLLBACK` (or `COMMIT`, which then rolls back) every other statement is refused — as
//! PostgreSQL does.

use std::collections::BTreeMap;
use std::sync::Arc;

use heliosdb_core::{ColumnSpec, Database, IndexSpec, TableSpec, Value, WriteTxn};

use crate::ast::{
    self, ColumnConstraintKind, ExprKind, ObjectKind, StatementKind, TableConstraintKind,
};
use crate::bind::{self, Binder, BoundQuery, OutputColumn, Scope, ScopeColumn};
use crate::constraints::{self, SqlTableMeta};
use crate::exec::{Executor, Row};
use crate::plan::Expr;
use crate::system::SystemTables;
use crate::values;
use crate::views::{View, Views};

/// Everything that can go wrong running SQL text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The text is not valid SQL; `render` draws a caret under the offending text.
    #[error("syntax error: {0}")]
    Parse(#[from] crate::parser::ParseError),
    /// A name or type is wrong.
    #[error("{}", .0.message)]
    Bind(#[from] bind::BindError),
    /// Running the statement failed.
    #[error(transparent)]
    Exec(#[from] crate::error::Error),
    /// A DEFAULT or CHECK failed, or its stored form is damaged.
    #[error(transparent)]
    Constraint(#[from] crate::constraints::ConstraintError),
    /// The transaction failed earlier; only ROLLBACK (or COMMIT) is accepted.
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    Aborted,
    /// A statement the engine does not run (yet).
    #[error("{0}")]
    Unsupported(String),
}

impl From<heliosdb_core::Error> for SqlError {
    fn from(e: heliosdb_core::Error) -> Self {
        SqlError::Exec(e.into())
    }
}

impl From<values::ValueError> for SqlError {
    fn from(e: values::ValueError) -> Self {
        SqlError::Exec(e.into())
    }
}

impl SqlError {
    /// The error with line, column and a caret under the offending text, where known.
    pub fn render(&self, sql: &str) -> String {
        match self {
            SqlError::Parse(e) => e.render(sql),
            SqlError::Bind(e) => {
                crate::parser::ParseError::new(sql, e.span, e.message.clone()).render(sql)
            }
            other => format!("error: {other}\n"),
        }
    }
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// What a statement produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A query's (or RETURNING's) rows.
    Rows {
        columns: Vec<OutputColumn>,
        rows: Vec<Row>,
    },
    /// INSERT, UPDATE or DELETE without RETURNING: how many rows.
    Affected { command: &'static str, rows: u64 },
    /// Anything else: the command tag (`CREATE TABLE`, `BEGIN`, ...).
    Done(&'static str),
}

enum TxnState {
    Idle,
    Open(WriteTxn),
    Aborted(WriteTxn),
}

/// A connection-like session over one database.
pub struct Session {
    db: Database,
    txn: TxnState,
    settings: BTreeMap<String, String>,
    /// The SQL layer's table functions and what `with_system_tables` added.
    system: Arc<SystemTables>,
}

/// Binds a query for running: names resolved, parameters bound as their values, and the
/// scans told which columns the plan reads.
fn bind_query(
    catalog: &heliosdb_core::Catalog,
    system: Option<&SystemTables>,
    q: &ast::Query,
    params: &[Value],
) -> Result<crate::bind::BoundQuery> {
    let mut binder = Binder::new(catalog).with_params(params);
    if let Some(system) = system {
        binder = binder.with_system_tables(system);
    }
    let mut bound = binder.query(q)?;
    crate::knn::rewrite(catalog, &mut bound.plan);
    crate::prune::prune(catalog, &mut bound.plan);
    Ok(bound)
}

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(SqlError::Unsupported(what.into()))
}

fn table_scope(table: &heliosdb_core::TableSchema, label: &str) -> Scope {
    Scope {
        columns: table
            .columns
            .iter()
            .map(|c| ScopeColumn {
                table: Some(label.to_owned()),
                name: c.name.clone(),
                ty: Some(c.data_type),
            })
            .collect(),
    }
}

/// A value stored into a column of type `ty`: PostgreSQL's assignment casts.
fn assign(v: Value, ty: heliosdb_core::DataType) -> Result<Value> {
    if v.is_null() || v.fits(ty) {
        return Ok(v);
    }
    Ok(values::cast(&v, ty)?)
}

impl Session {
    pub fn new(db: Database) -> Self {
        let mut system = SystemTables::new();
        crate::system::register_builtins(&mut system, &db);
        Session {
            db,
            txn: TxnState::Idle,
            settings: BTreeMap::new(),
            system: Arc::new(system),
        }
    }

    /// Queries can also read these system tables (a catalog table or view of the same
    /// name wins).
    pub fn with_system_tables(mut self, system: Arc<SystemTables>) -> Self {
        Arc::make_mut(&mut self.system).extend(&system);
        self
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// What vector searches of this session use: the database's HNSW indexes and the
    /// session's `hnsw.ef_search`.
    fn vector_context(&self) -> crate::exec::VectorContext {
        crate::exec::VectorContext {
            db: self.db.clone(),
            ef_search: self
                .settings
                .get("hnsw.ef_search")
                .and_then(|v| v.parse().ok()),
        }
    }

    /// Whether a `BEGIN` block is open (possibly aborted).
    pub fn in_transaction(&self) -> bool {
        !matches!(self.txn, TxnState::Idle)
    }

    /// Runs every statement of `sql`, stopping at the first error.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Outcome>> {
        self.run_all(&crate::parser::parse(sql)?, params)
    }

    /// Runs parsed statements in order, stopping at the first error.
    pub fn run_all(
        &mut self,
        statements: &[ast::Statement],
        params: &[Value],
    ) -> Result<Vec<Outcome>> {
        let mut out = Vec::with_capacity(statements.len());
        for stmt in statements {
            out.push(self.run(stmt, params)?);
        }
        Ok(out)
    }

    /// Runs one parsed statement.
    pub fn run(&mut self, stmt: &ast::Statement, params: &[Value]) -> Result<Outcome> {
        match (&stmt.kind, std::mem::replace(&mut self.txn, TxnState::Idle)) {
            (StatementKind::Begin, TxnState::Idle) => {
                self.txn = TxnState::Open(self.db.begin_write()?);
                Ok(Outcome::Done("BEGIN"))
            }
            (StatementKind::Begin, state) => {
                self.txn = state;
                // PostgreSQL warns and carries on.
                Ok(Outcome::Done("BEGIN"))
            }
            (StatementKind::Commit, TxnState::Open(w)) => {
                w.commit()?;
                Ok(Outcome::Done("COMMIT"))
            }
            (
                StatementKind::Commit | StatementKind::Rollback,
                TxnState::Aborted(w) | TxnState::Open(w),
            ) => {
                w.rollback()?;
                Ok(Outcome::Done("ROLLBACK"))
            }
            (StatementKind::Commit | StatementKind::Rollback, TxnState::Idle) => Ok(Outcome::Done(
                if matches!(stmt.kind, StatementKind::Commit) {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                },
            )),
            (_, TxnState::Aborted(w)) => {
                self.txn = TxnState::Aborted(w);
                Err(SqlError::Aborted)
            }
            (_, TxnState::Open(mut w)) => {
                let result = self.statement(stmt, params, Some(&mut w));
                self.txn = if result.is_ok() {
                    TxnState::Open(w)
                } else {
                    TxnState::Aborted(w)
                };
                result
            }
            (_, TxnState::Idle) => self.autocommit(stmt, params),
        }
    }

    fn autocommit(&mut self, stmt: &ast::Statement, params: &[Value]) -> Result<Outcome> {
        if let StatementKind::Query(q) = &stmt.kind {
            let r = self.db.begin_read()?;
            let bound = bind_query(r.catalog(), Some(&self.system), q, params)?;
            let vectors = self.vector_context();
            let rows = Executor::new(&r, params)
                .with_vectors(Some(&vectors))
                .collect(&bound.plan)?;
            return Ok(Outcome::Rows {
                columns: bound.columns,
                rows,
            });
        }
        if matches!(
            stmt.kind,
            StatementKind::Explain(_)
                | StatementKind::Set { .. }
                | StatementKind::Show { .. }
                | StatementKind::Reindex { .. }
                | StatementKind::AlterDatabase { .. }
        ) {
            return self.statement(stmt, params, None);
        }
        let mut w = self.db.begin_write()?;
        let outcome = self.statement(stmt, params, Some(&mut w))?;
        w.commit()?;
        Ok(outcome)
    }

    fn statement(
        &mut self,
        stmt: &ast::Statement,
        params: &[Value],
        w: Option<&mut WriteTxn>,
    ) -> Result<Outcome> {
        let Some(w) = w else {
            return self.no_txn_statement(stmt);
        };
        match &stmt.kind {
            StatementKind::Query(q) => {
                let bound = bind_query(w.catalog(), Some(&self.system), q, params)?;
                let vectors = self.vector_context();
                let rows = Executor::new(&*w, params)
                    .with_vectors(Some(&vectors))
                    .collect(&bound.plan)?;
                Ok(Outcome::Rows {
                    columns: bound.columns,
                    rows,
                })
            }
            StatementKind::Insert(i) => insert(w, i, params),
            StatementKind::Update(u) => update(w, u, params),
            StatementKind::Delete(d) => delete(w, d, params),
            StatementKind::CreateTable(c) => create_table(w, c),
            StatementKind::CreateIndex(c) => create_index(w, c),
            StatementKind::Drop {
                object,
                if_exists,
                names,
            } => drop(w, *object, *if_exists, names),
            StatementKind::AlterTable(a) => alter_table(w, a),
            StatementKind::CreateView(v) => create_view(w, v),
            StatementKind::Explain(_) | StatementKind::Set { .. } | StatementKind::Show { .. } => {
                self.no_txn_statement(stmt)
            }
            StatementKind::Reindex { .. } => {
                unsupported("REINDEX cannot run inside a transaction block; COMMIT first")
            }
            StatementKind::AlterDatabase { .. } => {
                unsupported("ALTER DATABASE cannot run inside a transaction block; COMMIT first")
            }
            StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback => {
                unsupported("transaction control inside a statement")
            }
        }
    }

    fn no_txn_statement(&mut self, stmt: &ast::Statement) -> Result<Outcome> {
        match &stmt.kind {
            StatementKind::Explain(inner) => {
                let lines = match &inner.kind {
                    StatementKind::Query(q) => {
                        let r = self.db.begin_read()?;
                        let bound = bind_query(r.catalog(), Some(&self.system), q, &[])?;
                        crate::explain::explain(&bound.plan)
                    }
                    _ => return unsupported("EXPLAIN shows queries only"),
                };
                let rows = lines.into_iter().map(|l| vec![Value::Text(l)]).collect();
                let columns = vec![OutputColumn {
                    name: "QUERY PLAN".into(),
                    ty: Some(heliosdb_core::DataType::Text),
                }];
                Ok(Outcome::Rows { columns, rows })
            }
            StatementKind::Reindex { table, name } => {
                let catalog = self.db.begin_read()?.catalog().clone();
                let targets: Vec<(String, crate::vector::HnswDef)> = if *table {
                    let t = catalog.table(&name.value).map_err(|_| bind::BindError {
                        message: format!("relation \"{}\" does not exist", name.value),
                        span: name.span,
                    })?;
                    crate::vector::defs(t)?
                        .into_iter()
                        .map(|d| (t.name.clone(), d))
                        .collect()
                } else {
                    match crate::vector::find(&catalog, &name.value)? {
                        Some(found) => vec![found],
                        // B-tree indexes are kept exact by every write: nothing to rebuild.
                        None if catalog.find_index(&name.value).is_some() => vec![],
                        None => {
                            return Err(bind::BindError {
                                message: format!("index \"{}\" does not exist", name.value),
                                span: name.span,
                            }
                            .into());
                        }
                    }
                };
                for (table, def) in targets {
                    // Another compaction may swap first; then build again from its result.
                    while !crate::vector::compact(
                        &self.db,
                        &table,
                        &def,
                        crate::vector::Compaction::Full,
                    )? {}
                }
                Ok(Outcome::Done("REINDEX"))
            }
            StatementKind::Set { name, value, .. } => {
                let name: Vec<&str> = name.iter().map(|i| i.value.as_str()).collect();
                let value = match value {
                    ast::SetValue::Default => None,
                    ast::SetValue::Values(v) => {
                        Some(v.iter().map(option_text).collect::<Vec<_>>().join(", "))
                    }
                };
                if name.join(".") == "hnsw.ef_search"
                    && let Some(v) = &value
                {
                    match v.parse::<u32>() {
                        Ok(n) if (1..=crate::vector::EF_MAX).contains(&n) => {}
                        _ => {
                            return unsupported(format!(
                                "invalid value for parameter \"hnsw.ef_search\": \"{v}\"; \
                                 it must be an integer between 1 and {}",
                                crate::vector::EF_MAX
                            ));
                        }
                    }
                }
                match value {
                    Some(v) => self.settings.insert(name.join("."), v),
                    None => self.settings.remove(&name.join(".")),
                };
                Ok(Outcome::Done("SET"))
            }
            StatementKind::AlterDatabase { name, value } => {
                let name: Vec<&str> = name.iter().map(|i| i.value.as_str()).collect();
                match name.join(".").as_str() {
                    "history_retention" => {
                        let retention = match value {
                            ast::SetValue::Default => {
                                Some(heliosdb_core::DEFAULT_HISTORY_RETENTION)
                            }
                            ast::SetValue::Values(v) => {
                                let text = v.iter().map(option_text).collect::<String>();
                                parse_retention(&text)?
                            }
                        };
                        self.db.set_history_retention(retention)?;
                        // Enforced now, not only by the collection commits run on their own.
                        self.db.collect_garbage()?;
                        Ok(Outcome::Done("ALTER DATABASE"))
                    }
                    other => unsupported(format!(
                        "unrecognized database setting \"{other}\" (ALTER DATABASE SET knows \
                         history_retention)"
                    )),
                }
            }
            StatementKind::Show { name } => {
                let name: Vec<&str> = name.iter().map(|i| i.value.as_str()).collect();
                let key = name.join(".");
                let value = match self.settings.get(&key) {
                    Some(v) => v.clone(),
                    None => match key.as_str() {
                        "history_retention" => match self.db.history_retention() {
                            Some(d) => format_retention(d),
                            None => "forever".into(),
                        },
                        "server_version" => "15.0 (HeliosDB Nano)".into(),
                        "transaction_isolation" => "serializable".into(),
                        _ => {
                            return unsupported(format!(
                                "unrecognized configuration parameter \"{key}\""
                            ));
                        }
                    },
                };
                Ok(Outcome::Rows {
                    columns: vec![OutputColumn {
                        name: key,
                        ty: Some(heliosdb_core::DataType::Text),
                    }],
                    rows: vec![vec![Value::Text(value)]],
                })
            }
            _ => unsupported("this statement needs a transaction"),
        }
    }
}

/// How long history is kept: `'7 days'`, `'36 hours'`, `'1 day 12 hours'`, `'90 s'`,
/// or `'forever'` (`None`).
fn parse_retention(text: &str) -> Result<Option<std::time::Duration>> {
    let bad = || {
        SqlError::Unsupported(format!(
            "invalid history_retention \"{text}\": give a duration such as '7 days', \
             '12 hours' or '30 minutes', or 'forever'"
        ))
    };
    let lower = text.trim().to_ascii_lowercase();
    if ["forever", "unlimited", "infinity"].contains(&lower.as_str()) {
        return Ok(None);
    }
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut total: u64 = 0;
    for pair in words.chunks(2) {
        let n: u64 = pair[0].parse().map_err(|_| bad())?;
        let unit: u64 = match pair[1].trim_end_matches('s') {
            "" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            "w" | "week" => 604_800,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    Ok(Some(std::time::Duration::from_secs(total)))
}

fn format_retention(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0 seconds".into(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn option_text(v: &ast::OptionValue) -> String {
    match v {
        ast::OptionValue::Word(w) => w.value.clone(),
        ast::OptionValue::Literal(ast::Literal::String(s), _) => s.clone(),
        ast::OptionValue::Literal(ast::Literal::Integer(i), _) => i.to_string(),
        ast::OptionValue::Literal(ast::Literal::Numeric(n), _) => n.clone(),
        ast::OptionValue::Literal(ast::Literal::Boolean(b), _) => b.to_string(),
        ast::OptionValue::Literal(ast::Literal::Null, _) => "null".into(),
    }
}

// ---------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------

fn create_table(w: &mut WriteTxn, c: &ast::CreateTable) -> Result<Outcome> {
    if c.if_not_exists && w.catalog().table(&c.name.value).is_ok() {
        return Ok(Outcome::Done("CREATE TABLE"));
    }
    let storage = table_storage_options(c)?;
    let views = Views::of(w.catalog()).map_err(|e| SqlError::Unsupported(e.to_string()))?;
    if views.get(&c.name.value).is_some() {
        return Err(bind::BindError {
            message: format!("relation \"{}\" already exists", c.name.value),
            span: c.name.span,
        }
        .into());
    }
    let mut spec = TableSpec::new(&c.name.value);
    let mut primary_key: Vec<String> = Vec::new();
    let mut uniques: Vec<Vec<String>> = Vec::new();
    let mut meta = SqlTableMeta::default();
    for col in &c.columns {
        let mut column = ColumnSpec::new(&col.name.value, bind::data_type(&col.data_type)?);
        for constraint in &col.constraints {
            match &constraint.kind {
                ColumnConstraintKind::PrimaryKey => {
                    if !primary_key.is_empty() {
                        return Err(bind::BindError {
                            message: format!(
                                "multiple primary keys for table \"{}\" are not allowed",
                                c.name.value
                            ),
                            span: constraint.span,
                        }
                        .into());
                    }
                    primary_key.push(col.name.value.clone());
                }
                ColumnConstraintKind::NotNull => column = column.not_null(),
                ColumnConstraintKind::Null => {}
                ColumnConstraintKind::Unique => uniques.push(vec![col.name.value.clone()]),
                ColumnConstraintKind::Default(e) => {
                    meta.defaults.push((col.name.value.clone(), e.to_string()));
                }
                ColumnConstraintKind::Check(e) => {
                    let name = constraint.name.as_ref().map_or_else(
                        || format!("{}_{}_check", c.name.value, col.name.value),
                        |n| n.value.clone(),
                    );
                    meta.checks.push((name, e.to_string()));
                }
            }
        }
        spec = spec.column(column);
    }
    for constraint in &c.constraints {
        match &constraint.kind {
            TableConstraintKind::PrimaryKey(cols) => {
                if !primary_key.is_empty() {
                    return Err(bind::BindError {
                        message: format!(
                            "multiple primary keys for table \"{}\" are not allowed",
                            c.name.value
                        ),
                        span: constraint.span,
                    }
                    .into());
                }
                primary_key = cols.iter().map(|i| i.value.clone()).collect();
            }
            TableConstraintKind::Unique(cols) => {
                uniques.push(cols.iter().map(|i| i.value.clone()).collect())
            }
            TableConstraintKind::Check(e) => {
                let name = constraint.name.as_ref().map_or_else(
                    || format!("{}_check{}", c.name.value, meta.checks.len() + 1),
                    |n| n.value.clone(),
                );
                meta.checks.push((name, e.to_string()));
            }
        }
    }
    let mut spec = spec.primary_key(primary_key);
    spec.storage = storage;
    w.create_table(&spec)?;
    for cols in uniques {
        let name = format!("{}_{}_key", c.name.value, cols.join("_"));
        w.create_index(&c.name.value, &IndexSpec::new(name, cols).unique())?;
    }
    if !meta.is_empty() {
        meta.save(w, &c.name.value)?;
        // Bind them now, so a bad DEFAULT or CHECK fails CREATE TABLE, not a later INSERT.
        let schema = w.catalog().table(&c.name.value)?.clone();
        constraints::Bound::new(w, &schema)?;
    }
    Ok(Outcome::Done("CREATE TABLE"))
}

fn create_index(w: &mut WriteTxn, c: &ast::CreateIndex) -> Result<Outcome> {
    if let Some(m) = &c.method
        && m.value == "hnsw"
    {
        return create_hnsw_index(w, c);
    }
    if let Some(m) = &c.method
        && m.value != "btree"
    {
        return unsupported(format!(
            "index method {} is not supported; use btree, or hnsw on a VECTOR column",
            m.value
        ));
    }
    if let Some(o) = c.options.first() {
        return unsupported(format!(
            "btree indexes take no WITH options (found {})",
            dotted_option(o)
        ));
    }
    let mut columns = Vec::with_capacity(c.columns.len());
    for ic in &c.columns {
        match &ic.expr.kind {
            ExprKind::Column {
                table: None,
                column,
            } => columns.push(column.value.clone()),
            _ => {
                return unsupported("indexes on expressions are not supported yet; index a column");
            }
        }
    }
    let name = match &c.name {
        Some(n) => n.value.clone(),
        None => format!("{}_{}_idx", c.table.value, columns.join("_")),
    };
    if c.if_not_exists && w.catalog().find_index(&name).is_some() {
        return Ok(Outcome::Done("CREATE INDEX"));
    }
    let mut spec = IndexSpec::new(name, columns);
    spec.unique = c.unique;
    w.create_index(&c.table.value, &spec)?;
    Ok(Outcome::Done("CREATE INDEX"))
}

/// The storage settings of `CREATE TABLE … WITH (storage = 'row' | 'columnar',
/// compression = 'auto' | 'none')`; `None` without options.
fn table_storage_options(c: &ast::CreateTable) -> Result<Option<heliosdb_core::StorageOptions>> {
    if c.options.is_empty() {
        return Ok(None);
    }
    let mut options = heliosdb_core::StorageOptions::default();
    for o in &c.options {
        let name = dotted_option(o);
        let (value, span) = match &o.value {
            Some(ast::OptionValue::Literal(ast::Literal::String(v), span)) => (v.clone(), *span),
            Some(ast::OptionValue::Word(w)) => (w.value.clone(), w.span),
            _ => {
                return bind_error(
                    c.name.span,
                    format!("table option \"{name}\" needs a value, e.g. {name} = 'auto'"),
                );
            }
        };
        match (name.as_str(), value.to_ascii_lowercase().as_str()) {
            ("storage", "row") => options.layout = heliosdb_core::Layout::Row,
            ("storage", "columnar") => options.layout = heliosdb_core::Layout::Columnar,
            ("compression", "auto") => options.compression = heliosdb_core::TableCompression::Auto,
            ("compression", "none") => options.compression = heliosdb_core::TableCompression::None,
            ("storage", other) => {
                return bind_error(
                    span,
                    format!("invalid storage \"{other}\"; use 'row' or 'columnar'"),
                );
            }
            ("compression", other) => {
                return bind_error(
                    span,
                    format!("invalid compression \"{other}\"; use 'auto' or 'none'"),
                );
            }
            (other, _) => {
                return bind_error(
                    c.name.span,
                    format!(
                        "unrecognized table option \"{other}\"; use storage = 'row' | \
                         'columnar' or compression = 'auto' | 'none'"
                    ),
                );
            }
        }
    }
    Ok(Some(options))
}

fn dotted_option(o: &ast::SqlOption) -> String {
    o.name
        .iter()
        .map(|i| i.value.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

fn bind_error<T>(span: crate::ast::Span, message: impl Into<String>) -> Result<T> {
    Err(bind::BindError {
        message: message.into(),
        span,
    }
    .into())
}

/// An integer option within `range`.
fn int_option(
    o: &ast::SqlOption,
    range: std::ops::RangeInclusive<u32>,
    span: crate::ast::Span,
) -> Result<u32> {
    let name = dotted_option(o);
    match &o.value {
        Some(ast::OptionValue::Literal(ast::Literal::Integer(i), s)) => match u32::try_from(*i) {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => bind_error(
                *s,
                format!(
                    "value {i} out of bounds for option \"{name}\": it must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            ),
        },
        _ => bind_error(span, format!("option \"{name}\" needs an integer value")),
    }
}

/// `CREATE INDEX [name] ON t USING hnsw (col [opclass]) [WITH (m = .., ef_construction =
/// .., ef_search = ..)]`: declares the index with the table and builds its first segment
/// from the rows this transaction sees.
fn create_hnsw_index(w: &mut WriteTxn, c: &ast::CreateIndex) -> Result<Outcome> {
    use crate::vector::{self, HnswDef};
    if c.unique {
        return bind_error(c.table.span, "hnsw indexes cannot be UNIQUE");
    }
    let [ic] = c.columns.as_slice() else {
        return bind_error(
            c.table.span,
            "an hnsw index covers exactly one VECTOR column",
        );
    };
    let ExprKind::Column {
        table: None,
        column,
    } = &ic.expr.kind
    else {
        return bind_error(
            ic.expr.span,
            "an hnsw index is on a column, not an expression",
        );
    };
    let schema = match w.catalog().table(&c.table.value) {
        Ok(t) => t.clone(),
        Err(_) => {
            return bind_error(
                c.table.span,
                format!("relation \"{}\" does not exist", c.table.value),
            );
        }
    };
    let Some(pos) = schema.column_index(&column.value) else {
        return bind_error(
            column.span,
            format!("column \"{}\" does not exist", column.value),
        );
    };
    let col = &schema.columns[pos];
    if !matches!(col.data_type, heliosdb_core::DataType::Vector(_)) {
        return bind_error(
            column.span,
            format!(
                "column \"{}\" is {}; hnsw indexes need a VECTOR(n) column",
                column.value, col.data_type
            ),
        );
    }
    let metric = match &ic.opclass {
        None => heliosdb_vector::Metric::L2,
        Some(op) => match vector::metric_of_opclass(&op.value) {
            Some(m) => m,
            None => {
                return bind_error(
                    op.span,
                    format!(
                        "operator class \"{}\" does not exist for access method \"hnsw\"; \
                         use vector_l2_ops, vector_cosine_ops or vector_ip_ops",
                        op.value
                    ),
                );
            }
        },
    };
    let mut def = HnswDef {
        name: c.name.as_ref().map_or_else(
            || format!("{}_{}_idx", c.table.value, column.value),
            |n| n.value.clone(),
        ),
        column: col.id,
        metric: vector::metric_code(metric),
        m: 16,
        ef_construction: 200,
        ef_search: 40,
    };
    for o in &c.options {
        match dotted_option(o).as_str() {
            "m" => def.m = int_option(o, vector::M_RANGE, c.table.span)? as u16,
            "ef_construction" => {
                def.ef_construction = int_option(o, 4..=vector::EF_MAX, c.table.span)?
            }
            "ef_search" => def.ef_search = int_option(o, 1..=vector::EF_MAX, c.table.span)?,
            other => {
                return bind_error(
                    c.table.span,
                    format!(
                        "unrecognized parameter \"{other}\" for hnsw; \
                         use m, ef_construction or ef_search"
                    ),
                );
            }
        }
    }
    let taken = w.catalog().find_index(&def.name).is_some()
        || vector::find(w.catalog(), &def.name)?.is_some();
    if taken {
        if c.if_not_exists {
            return Ok(Outcome::Done("CREATE INDEX"));
        }
        return bind_error(
            c.name.as_ref().map_or(c.table.span, |n| n.span),
            format!("relation \"{}\" already exists", def.name),
        );
    }
    let mut defs = vector::defs(&schema)?;
    defs.push(def.clone());
    vector::save_defs(w, &schema.name, &defs)?;
    vector::drop_storage(w, schema.id, &def.name)?;
    let schema = w.catalog().table(&c.table.value)?.clone();
    vector::build_initial(w, &schema, &def)?;
    Ok(Outcome::Done("CREATE INDEX"))
}

/// Drops the HNSW index `name`, if there is one by that name.
fn drop_hnsw_index(w: &mut WriteTxn, name: &str) -> Result<bool> {
    let Some((table, _)) = crate::vector::find(w.catalog(), name)? else {
        return Ok(false);
    };
    let schema = w.catalog().table(&table)?.clone();
    let mut defs = crate::vector::defs(&schema)?;
    defs.retain(|d| d.name != name);
    crate::vector::save_defs(w, &table, &defs)?;
    crate::vector::drop_storage(w, schema.id, name)?;
    Ok(true)
}

fn create_view(w: &mut WriteTxn, v: &ast::CreateView) -> Result<Outcome> {
    let name = &v.name.value;
    if w.catalog().table(name).is_ok() {
        return Err(bind::BindError {
            message: format!("relation \"{name}\" already exists"),
            span: v.name.span,
        }
        .into());
    }
    let mut views = Views::of(w.catalog()).map_err(|e| SqlError::Unsupported(e.to_string()))?;
    if views.get(name).is_some() && !v.or_replace {
        return Err(bind::BindError {
            message: format!("relation \"{name}\" already exists"),
            span: v.name.span,
        }
        .into());
    }
    // Bind it now, so a broken view fails here rather than where it is used.
    let bound = Binder::new(w.catalog()).query(&v.query)?;
    if v.columns.len() > bound.columns.len() {
        return Err(bind::BindError {
            message: "CREATE VIEW specifies more column names than columns".into(),
            span: v.name.span,
        }
        .into());
    }
    views.views.retain(|x| x.name != *name);
    views.views.push(View {
        name: name.clone(),
        columns: v.columns.iter().map(|c| c.value.clone()).collect(),
        sql: v.query.to_string(),
    });
    views.save(w)?;
    Ok(Outcome::Done("CREATE VIEW"))
}

fn drop(
    w: &mut WriteTxn,
    object: ObjectKind,
    if_exists: bool,
    names: &[ast::Ident],
) -> Result<Outcome> {
    for name in names {
        let result = match object {
            ObjectKind::Table => {
                if let Ok(t) = w.catalog().table(&name.value) {
                    let t = t.clone();
                    for d in crate::vector::defs(&t)? {
                        crate::vector::drop_storage(w, t.id, &d.name)?;
                    }
                }
                w.drop_table(&name.value)
            }
            ObjectKind::Index if drop_hnsw_index(w, &name.value)? => Ok(()),
            ObjectKind::Index => w.drop_index(&name.value),
            ObjectKind::View => {
                let mut views =
                    Views::of(w.catalog()).map_err(|e| SqlError::Unsupported(e.to_string()))?;
                let before = views.views.len();
                views.views.retain(|v| v.name != name.value);
                if views.views.len() == before {
                    if if_exists {
                        continue;
                    }
                    return Err(bind::BindError {
                        message: format!("view \"{}\" does not exist", name.value),
                        span: name.span,
                    }
                    .into());
                }
                views.save(w)
            }
        };
        match result {
            Err(
                heliosdb_core::Error::TableNotFound(_) | heliosdb_core::Error::IndexNotFound(_),
            ) if if_exists => {}
            other => other?,
        }
    }
    Ok(Outcome::Done(match object {
        ObjectKind::Table => "DROP TABLE",
        ObjectKind::Index => "DROP INDEX",
        ObjectKind::View => "DROP VIEW",
    }))
}

fn alter_table(w: &mut WriteTxn, a: &ast::AlterTable) -> Result<Outcome> {
    match &a.action {
        ast::AlterTableAction::AddColumn {
            if_not_exists,
            column,
        } => {
            let table = w.catalog().table(&a.table.value)?.clone();
            if table.column_index(&column.name.value).is_some() && *if_not_exists {
                return Ok(Outcome::Done("ALTER TABLE"));
            }
            let mut spec = ColumnSpec::new(&column.name.value, bind::data_type(&column.data_type)?);
            for c in &column.constraints {
                match &c.kind {
                    ColumnConstraintKind::NotNull => spec = spec.not_null(),
                    ColumnConstraintKind::Null => {}
                    _ => {
                        return unsupported(
                            "ADD COLUMN takes only NULL / NOT NULL constraints for now",
                        );
                    }
                }
            }
            w.add_column(&a.table.value, &spec)?;
            Ok(Outcome::Done("ALTER TABLE"))
        }
        ast::AlterTableAction::RenameTable(to) => {
            w.rename_table(&a.table.value, &to.value)?;
            Ok(Outcome::Done("ALTER TABLE"))
        }
        ast::AlterTableAction::RenameColumn { .. } => {
            unsupported("RENAME COLUMN is not supported yet")
        }
        ast::AlterTableAction::SetCompression {
            column,
            compression,
        } => {
            let compression = match compression.as_str() {
                "fsst" => heliosdb_core::ColumnCompression::Fsst,
                "lz4" => heliosdb_core::ColumnCompression::Lz4,
                _ => heliosdb_core::ColumnCompression::None,
            };
            w.set_column_compression(&a.table.value, &column.value, compression)?;
            Ok(Outcome::Done("ALTER TABLE"))
        }
    }
}

// ---------------------------------------------------------------------------------------
// DML
// ---------------------------------------------------------------------------------------

/// RETURNING items bound over a table's row.
fn returning(
    w: &WriteTxn,
    table: &str,
    items: &[ast::SelectItem],
) -> Result<Option<(Vec<Expr>, Vec<OutputColumn>)>> {
    if items.is_empty() {
        return Ok(None);
    }
    let schema = w.catalog().table(table)?.clone();
    let scope = table_scope(&schema, table);
    let mut binder = Binder::new(w.catalog());
    let (mut exprs, mut columns) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            ast::SelectItem::Expr { expr, alias } => {
                let (e, ty) = binder.scalar(expr, &scope)?;
                let name = alias
                    .as_ref()
                    .map_or_else(|| expr.to_string(), |a| a.value.clone());
                let name = match &expr.kind {
                    ExprKind::Column { column, .. } if alias.is_none() => column.value.clone(),
                    _ => name,
                };
                exprs.push(e);
                columns.push(OutputColumn { name, ty });
            }
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                for (i, c) in schema.columns.iter().enumerate() {
                    exprs.push(Expr::Column(i));
                    columns.push(OutputColumn {
                        name: c.name.clone(),
                        ty: Some(c.data_type),
                    });
                }
            }
        }
    }
    Ok(Some((exprs, columns)))
}

/// RETURNING's values for one row.
fn project(w: &WriteTxn, params: &[Value], exprs: &[Expr], row: &[Value]) -> Result<Row> {
    let ex = Executor::new(w, params);
    Ok(exprs
        .iter()
        .map(|e| ex.eval(e, row))
        .collect::<Result<Row, _>>()?)
}

fn finish_dml(
    command: &'static str,
    count: u64,
    ret: Option<(Vec<Expr>, Vec<OutputColumn>)>,
    returned: Vec<Row>,
) -> Outcome {
    match ret {
        Some((_, columns)) => Outcome::Rows {
            columns,
            rows: returned,
        },
        None => Outcome::Affected {
            command,
            rows: count,
        },
    }
}

fn insert(w: &mut WriteTxn, i: &ast::Insert, params: &[Value]) -> Result<Outcome> {
    let schema = w
        .catalog()
        .table(&i.table.value)
        .map_err(|_| bind::BindError {
            message: format!("relation \"{}\" does not exist", i.table.value),
            span: i.table.span,
        })?
        .clone();
    let targets: Vec<usize> = if i.columns.is_empty() {
        (0..schema.columns.len()).collect()
    } else {
        i.columns
            .iter()
            .map(|c| {
                schema
                    .column_index(&c.value)
                    .ok_or_else(|| bind::BindError {
                        message: format!(
                            "column \"{}\" of relation \"{}\" does not exist",
                            c.value, schema.name
                        ),
                        span: c.span,
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let meta = SqlTableMeta::of(&schema)?;
    let source: Vec<Row> = match &i.source {
        ast::InsertSource::DefaultValues => vec![Vec::new()],
        ast::InsertSource::Query(q) => {
            let q = with_defaults(q, &targets, &schema, &meta)?;
            let bound: BoundQuery = Binder::new(w.catalog()).with_params(params).query(&q)?;
            if bound.columns.len() > targets.len() {
                return Err(bind::BindError {
                    message: "INSERT has more expressions than target columns".into(),
                    span: q.span,
                }
                .into());
            }
            Executor::new(&*w, params).collect(&bound.plan)?
        }
    };
    let ret = returning(w, &schema.name, &i.returning)?;
    let mut count = 0u64;
    let mut returned = Vec::new();
    let rules = constraints::Bound::new(w, &schema)?;
    for values in source {
        let given = values.len();
        let mut row = vec![Value::Null; schema.columns.len()];
        for (v, &t) in values.into_iter().zip(&targets) {
            row[t] = assign(v, schema.columns[t].data_type)?;
        }
        {
            let ex = Executor::new(&*w, params);
            for (at, column) in schema.columns.iter().enumerate() {
                if !targets[..given.min(targets.len())].contains(&at) {
                    row[at] = rules.default_value(&ex, at, column.data_type)?;
                }
            }
            rules.check(&ex, &row)?;
        }
        let written = match &i.on_conflict {
            None => {
                w.insert(&schema.name, &row)?;
                Some(row)
            }
            Some(oc) => insert_on_conflict(w, &schema, row, oc, params)?,
        };
        if let Some(row) = written {
            count += 1;
            if let Some((exprs, _)) = &ret {
                returned.push(project(w, params, exprs, &row)?);
            }
        }
    }
    Ok(finish_dml("INSERT", count, ret, returned))
}

/// INSERT's query with each `DEFAULT` in its VALUES replaced by the column's default (or
/// NULL).
fn with_defaults(
    q: &ast::Query,
    targets: &[usize],
    schema: &heliosdb_core::TableSchema,
    meta: &SqlTableMeta,
) -> Result<ast::Query> {
    let mut q = q.clone();
    if let ast::SetExpr::Values(values) = &mut q.body {
        for row in &mut values.rows {
            for (i, item) in row.iter_mut().enumerate() {
                if !constraints::is_default(item) {
                    continue;
                }
                let Some(&at) = targets.get(i) else { continue };
                *item = match meta.default_sql(&schema.columns[at].name) {
                    Some(sql) => constraints::parse_expr(sql)?,
                    None => ast::Expr {
                        kind: ExprKind::Literal(ast::Literal::Null),
                        span: item.span,
                    },
                };
            }
        }
    }
    Ok(q)
}

fn pk_of(schema: &heliosdb_core::TableSchema, row: &[Value]) -> Vec<Value> {
    schema.primary_key.iter().map(|&c| row[c].clone()).collect()
}

/// INSERT with ON CONFLICT: returns the row written, if any.
fn insert_on_conflict(
    w: &mut WriteTxn,
    schema: &heliosdb_core::TableSchema,
    row: Row,
    oc: &ast::OnConflict,
    params: &[Value],
) -> Result<Option<Row>> {
    match w.insert(&schema.name, &row) {
        Ok(()) => return Ok(Some(row)),
        Err(
            heliosdb_core::Error::DuplicateKey { .. }
            | heliosdb_core::Error::UniqueViolation { .. },
        ) => {}
        Err(e) => return Err(e.into()),
    }
    // The existing row the new one clashes with: by key, or through a unique index.
    let existing = conflicting_row(w, schema, &row)?;
    let Some(existing) = existing else {
        return Err(SqlError::Exec(crate::error::Error::Internal(
            "a conflict with no conflicting row".into(),
        )));
    };
    match &oc.action {
        ast::ConflictAction::Nothing => Ok(None),
        ast::ConflictAction::Replace => {
            w.delete(&schema.name, &pk_of(schema, &existing))?;
            w.insert(&schema.name, &row)?;
            Ok(Some(row))
        }
        ast::ConflictAction::Update {
            assignments,
            selection,
        } => {
            // The row is the existing row followed by `excluded`, the proposed one.
            let mut scope = table_scope(schema, &schema.name);
            scope
                .columns
                .extend(table_scope(schema, "excluded").columns);
            let mut binder = Binder::new(w.catalog()).with_params(params);
            let mut joined = existing.clone();
            joined.extend(row.iter().cloned());
            let mut new = existing.clone();
            {
                let ex = Executor::new(&*w, params);
                if let Some(sel) = selection {
                    let p = binder.predicate(sel, &scope, "WHERE")?;
                    if values::truth(&ex.eval(&p, &joined)?)? != Some(true) {
                        return Ok(None);
                    }
                }
                for a in assignments {
                    let at =
                        schema
                            .column_index(&a.column.value)
                            .ok_or_else(|| bind::BindError {
                                message: format!(
                                    "column \"{}\" of relation \"{}\" does not exist",
                                    a.column.value, schema.name
                                ),
                                span: a.column.span,
                            })?;
                    let (e, _) = binder.scalar(&a.value, &scope)?;
                    new[at] = assign(ex.eval(&e, &joined)?, schema.columns[at].data_type)?;
                }
            }
            let rules = constraints::Bound::new(w, schema)?;
            rules.check(&Executor::new(&*w, params), &new)?;
            w.update(&schema.name, &pk_of(schema, &existing), &new)?;
            Ok(Some(new))
        }
    }
}

fn conflicting_row(
    w: &WriteTxn,
    schema: &heliosdb_core::TableSchema,
    row: &[Value],
) -> Result<Option<Row>> {
    if !schema.has_rowid()
        && let Some(existing) = w.get(&schema.name, &pk_of(schema, row))?
    {
        return Ok(Some(existing));
    }
    for index in schema.indexes.iter().filter(|i| i.unique) {
        let key: Vec<Value> = index.columns.iter().map(|&c| row[c].clone()).collect();
        if key.iter().any(Value::is_null) {
            continue;
        }
        if let Some(hit) = w
            .index_scan(&schema.name, &index.name, key.clone()..=key)?
            .into_iter()
            .next()
        {
            return Ok(Some(hit.values));
        }
    }
    Ok(None)
}

/// The rows of `table` matching `selection`, with their keys.
fn matching_rows(
    w: &WriteTxn,
    schema: &heliosdb_core::TableSchema,
    selection: Option<&ast::Expr>,
    params: &[Value],
) -> Result<Vec<(Vec<Value>, Row)>> {
    let scope = table_scope(schema, &schema.name);
    let predicate = match selection {
        Some(s) => Some(
            Binder::new(w.catalog())
                .with_params(params)
                .predicate(s, &scope, "WHERE")?,
        ),
        None => None,
    };
    let range = predicate
        .as_ref()
        .and_then(|p| bind::key_range(schema, p))
        .unwrap_or_else(crate::plan::full_range);
    let ex = Executor::new(w, params);
    let mut out = Vec::new();
    for row in w.scan(&schema.name, range)? {
        let row = row?;
        let keep = match &predicate {
            Some(p) => values::truth(&ex.eval(p, &row.values)?)? == Some(true),
            None => true,
        };
        if keep {
            out.push((row.key, row.values));
        }
    }
    Ok(out)
}

fn update(w: &mut WriteTxn, u: &ast::Update, params: &[Value]) -> Result<Outcome> {
    let schema = w.catalog().table(&u.table.value)?.clone();
    let meta = SqlTableMeta::of(&schema)?;
    let scope = table_scope(&schema, &schema.name);
    let mut binder = Binder::new(w.catalog()).with_params(params);
    let mut sets = Vec::with_capacity(u.assignments.len());
    for a in &u.assignments {
        let at = schema
            .column_index(&a.column.value)
            .ok_or_else(|| bind::BindError {
                message: format!(
                    "column \"{}\" of relation \"{}\" does not exist",
                    a.column.value, schema.name
                ),
                span: a.column.span,
            })?;
        let value = if constraints::is_default(&a.value) {
            match meta.default_sql(&a.column.value) {
                Some(sql) => constraints::parse_expr(sql)?,
                None => ast::Expr {
                    kind: ExprKind::Literal(ast::Literal::Null),
                    span: a.value.span,
                },
            }
        } else {
            a.value.clone()
        };
        let (e, _) = binder.scalar(&value, &scope)?;
        sets.push((at, e));
    }
    let ret = returning(w, &schema.name, &u.returning)?;
    let targets = matching_rows(w, &schema, u.selection.as_ref(), params)?;
    let mut changes = Vec::with_capacity(targets.len());
    {
        let ex = Executor::new(&*w, params);
        for (key, old) in targets {
            let mut new = old.clone();
            for (at, e) in &sets {
                new[*at] = assign(ex.eval(e, &old)?, schema.columns[*at].data_type)?;
            }
            changes.push((key, new));
        }
    }
    let rules = constraints::Bound::new(w, &schema)?;
    if rules.has_checks() {
        let ex = Executor::new(&*w, params);
        for (_, new) in &changes {
            rules.check(&ex, new)?;
        }
    }
    let mut returned = Vec::new();
    let count = changes.len() as u64;
    for (key, new) in changes {
        w.update(&schema.name, &key, &new)?;
        if let Some((exprs, _)) = &ret {
            returned.push(project(w, params, exprs, &new)?);
        }
    }
    Ok(finish_dml("UPDATE", count, ret, returned))
}

fn delete(w: &mut WriteTxn, d: &ast::Delete, params: &[Value]) -> Result<Outcome> {
    let schema = w.catalog().table(&d.table.value)?.clone();
    let ret = returning(w, &schema.name, &d.returning)?;
    let targets = matching_rows(w, &schema, d.selection.as_ref(), params)?;
    let mut returned = Vec::new();
    if let Some((exprs, _)) = &ret {
        for (_, old) in &targets {
            returned.push(project(w, params, exprs, old)?);
        }
    }
    for (key, _) in &targets {
        w.delete(&schema.name, key)?;
    }
    Ok(finish_dml("DELETE", targets.len() as u64, ret, returned))
}
