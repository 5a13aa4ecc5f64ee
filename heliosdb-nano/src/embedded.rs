//! The SQL API: [`EmbeddedDatabase`], prepared statements, transactions and typed rows.

use std::path::Path;
use std::sync::Arc;

use heliosdb_core::{DataType, Database, Value};
use heliosdb_sql::ast;
use heliosdb_sql::cache::StatementCache;
use heliosdb_sql::session::{Outcome, Session};
use heliosdb_sql::system::SystemTables;

pub use heliosdb_sql::session::SqlError;

pub type SqlResult<T> = std::result::Result<T, SqlError>;

/// A database opened for SQL. Cheap to clone; clones share the open file.
///
/// Each call outside a [`Transaction`] is its own transaction (autocommit). SQL text
/// run through `execute` and `query` is parsed once and kept (the last
/// [`STATEMENT_CACHE_TEXTS`] texts), so running the same text again costs what a prepared
/// statement does.
#[derive(Clone, Debug)]
pub struct EmbeddedDatabase {
    db: Database,
    statements: Arc<StatementCache>,
    /// Read-only tables of the other parts (sync's `heliosdb_conflicts`).
    system: Arc<SystemTables>,
}

/// A SQL session over `db` that sees the system tables.
fn session(db: &Database, system: &Arc<SystemTables>) -> Session {
    Session::new(db.clone()).with_system_tables(system.clone())
}

/// How many distinct SQL texts an [`EmbeddedDatabase`] keeps parsed.
pub const STATEMENT_CACHE_TEXTS: usize = 256;

/// A result column: its name and, when known, its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: Option<DataType>,
}

/// The rows of a query, with their column names and types.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<ResultRow>,
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub values: Vec<Value>,
}

/// Why a value could not become the Rust type asked for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot read a {found} value as {wanted}")]
pub struct FromValueError {
    pub found: &'static str,
    pub wanted: &'static str,
}

/// Conversion of a SQL value into a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, FromValueError>;
}

macro_rules! from_value {
    ($t:ty, $name:literal, $($pat:pat => $e:expr),+) => {
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, FromValueError> {
                match v {
                    $($pat => Ok($e),)+
                    other => Err(FromValueError { found: other.type_name(), wanted: $name }),
                }
            }
        }
    };
}
from_value!(i64, "i64", Value::Integer(i) => *i);
from_value!(f64, "f64", Value::Real(r) => *r, Value::Integer(i) => *i as f64);
from_value!(bool, "bool", Value::Boolean(b) => *b);
from_value!(String, "String", Value::Text(s) => s.clone());
from_value!(Vec<u8>, "Vec<u8>", Value::Blob(b) => b.clone());
from_value!(Vec<f32>, "Vec<f32>", Value::Vector(v) => v.clone());

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, FromValueError> {
        Ok(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, FromValueError> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl ResultRow {
    /// Column `i` as `T`; a missing column or a wrong type is an error.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, FromValueError> {
        match self.values.get(i) {
            Some(v) => T::from_value(v),
            None => Err(FromValueError {
                found: "missing",
                wanted: std::any::type_name::<T>(),
            }),
        }
    }
}

fn rows(outcome: Outcome) -> Rows {
    match outcome {
        Outcome::Rows { columns, rows } => Rows {
            columns: columns
                .into_iter()
                .map(|c| Column {
                    name: c.name,
                    data_type: c.ty,
                })
                .collect(),
            rows: rows
                .into_iter()
                .map(|values| ResultRow { values })
                .collect(),
        },
        _ => Rows {
            columns: Vec::new(),
            rows: Vec::new(),
        },
    }
}

fn affected(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Affected { rows, .. } => *rows,
        Outcome::Rows { rows, .. } => rows.len() as u64,
        Outcome::Done(_) => 0,
    }
}

/// A parsed statement, run any number of times with different parameters.
#[derive(Debug, Clone)]
pub struct PreparedStatement {
    db: Database,
    system: Arc<SystemTables>,
    statement: ast::Statement,
}

impl PreparedStatement {
    /// Runs it; returns the rows affected (or returned).
    pub fn execute(&self, params: &[Value]) -> SqlResult<u64> {
        let outcome = session(&self.db, &self.system).run(&self.statement, params)?;
        Ok(affected(&outcome))
    }

    /// Runs it and returns its rows.
    pub fn query(&self, params: &[Value]) -> SqlResult<Rows> {
        Ok(rows(
            session(&self.db, &self.system).run(&self.statement, params)?,
        ))
    }
}

/// A session over the database: settings made with `SET` last until it drops, and
/// `BEGIN ... COMMIT` spans calls. Dropping it inside a transaction rolls that back.
pub struct Connection {
    session: Session,
    statements: Arc<StatementCache>,
}

impl Connection {
    /// Runs one or more statements; returns the rows affected by the last.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> SqlResult<u64> {
        let outcomes = run_text(&mut self.session, &self.statements, sql, params)?;
        Ok(outcomes.last().map_or(0, affected))
    }

    /// Runs a query and returns its rows.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> SqlResult<Rows> {
        let outcomes = run_text(&mut self.session, &self.statements, sql, params)?;
        Ok(last_rows(outcomes))
    }

    /// Runs a prepared statement (no parsing); returns the rows affected.
    pub fn execute_prepared(
        &mut self,
        statement: &PreparedStatement,
        params: &[Value],
    ) -> SqlResult<u64> {
        Ok(affected(&self.session.run(&statement.statement, params)?))
    }

    /// Runs a prepared query.
    pub fn query_prepared(
        &mut self,
        statement: &PreparedStatement,
        params: &[Value],
    ) -> SqlResult<Rows> {
        Ok(rows(self.session.run(&statement.statement, params)?))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.session.in_transaction() {
            // Rolling back cannot fail in a way the caller could act on here.
            let _ = self.session.execute("ROLLBACK", &[]);
        }
    }
}

/// An open transaction. Dropping it without [`Transaction::commit`] rolls it back.
pub struct Transaction {
    session: Session,
    statements: Arc<StatementCache>,
    done: bool,
}

/// Runs every statement of `sql` (parsed through `cache`) in `session`.
fn run_text(
    session: &mut Session,
    cache: &StatementCache,
    sql: &str,
    params: &[Value],
) -> SqlResult<Vec<Outcome>> {
    let statements = cache.parse(sql)?;
    session.run_all(&statements, params)
}

/// The rows of the last statement's outcome (none for no statement).
fn last_rows(outcomes: Vec<Outcome>) -> Rows {
    outcomes.into_iter().last().map_or(
        Rows {
            columns: Vec::new(),
            rows: Vec::new(),
        },
        rows,
    )
}

impl Transaction {
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> SqlResult<u64> {
        let outcomes = run_text(&mut self.session, &self.statements, sql, params)?;
        Ok(outcomes.last().map_or(0, affected))
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> SqlResult<Rows> {
        let outcomes = run_text(&mut self.session, &self.statements, sql, params)?;
        Ok(last_rows(outcomes))
    }

    /// Runs a prepared statement inside this transaction (no parsing); returns the rows
    /// affected.
    pub fn execute_prepared(
        &mut self,
        statement: &PreparedStatement,
        params: &[Value],
    ) -> SqlResult<u64> {
        Ok(affected(&self.session.run(&statement.statement, params)?))
    }

    /// Runs a prepared query inside this transaction.
    pub fn query_prepared(
        &mut self,
        statement: &PreparedStatement,
        params: &[Value],
    ) -> SqlResult<Rows> {
        Ok(rows(self.session.run(&statement.statement, params)?))
    }

    /// Commits; if a statement failed, the transaction was aborted and this rolls back
    /// and says so.
    pub fn commit(mut self) -> SqlResult<()> {
        self.done = true;
        match self.session.execute("COMMIT", &[])?.pop() {
            Some(Outcome::Done("ROLLBACK")) => Err(SqlError::Aborted),
            _ => Ok(()),
        }
    }

    pub fn rollback(mut self) -> SqlResult<()> {
        self.done = true;
        self.session.execute("ROLLBACK", &[])?;
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.done {
            // Rolling back cannot fail in a way the caller could act on here.
            let _ = self.session.execute("ROLLBACK", &[]);
        }
    }
}

impl EmbeddedDatabase {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> SqlResult<Self> {
        #[cfg(feature = "crypto")]
        let db = crate::encryption::open_plain(path, Default::default())?;
        #[cfg(not(feature = "crypto"))]
        let db = Database::open(path)?;
        Ok(Self::from_database(db))
    }

    /// Opens (or creates) the encrypted database file at `path` with `key`: a raw
    /// 256-bit key, a passphrase, or one read from an environment variable or a key file
    /// (see [`KeySource`](crate::KeySource)). A wrong key, a tampered block or a truncated
    /// file is an error whose [`CryptoError`](crate::CryptoError) comes back through
    /// [`sql_crypto_error`](crate::sql_crypto_error).
    ///
    /// ```
    /// use heliosdb_nano::{EmbeddedDatabase, KeySource};
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("secret.db");
    /// let key = KeySource::from_hex(&"6b".repeat(32))?;
    /// let db = EmbeddedDatabase::open_encrypted(&path, &key)?;
    /// db.execute("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)", &[])?;
    /// db.execute("INSERT INTO notes VALUES (1, 'only with the key')", &[])?;
    /// # drop(db);
    /// assert!(EmbeddedDatabase::open_encrypted(&path, &KeySource::from_hex(&"00".repeat(32))?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "crypto")]
    pub fn open_encrypted(path: impl AsRef<Path>, key: &crate::KeySource) -> SqlResult<Self> {
        let db = crate::encryption::open_encrypted(path, key, Default::default())?;
        Ok(Self::from_database(db))
    }

    /// A database in memory, gone when the last clone drops.
    pub fn open_in_memory() -> SqlResult<Self> {
        Ok(Self::from_database(Database::open_in_memory()?))
    }

    /// SQL over an already open storage engine.
    pub fn from_database(db: Database) -> Self {
        let system = Arc::new(crate::system_tables(&db));
        EmbeddedDatabase {
            db,
            statements: Arc::new(StatementCache::new(STATEMENT_CACHE_TEXTS)),
            system,
        }
    }

    /// The storage engine underneath (change log, history, subscriptions).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Runs one or more statements; returns the rows affected by the last.
    pub fn execute(&self, sql: &str, params: &[Value]) -> SqlResult<u64> {
        let mut session = session(&self.db, &self.system);
        let outcomes = run_text(&mut session, &self.statements, sql, params)?;
        Ok(outcomes.last().map_or(0, affected))
    }

    /// Runs a query and returns its rows with column names and types.
    pub fn query(&self, sql: &str, params: &[Value]) -> SqlResult<Rows> {
        let mut session = session(&self.db, &self.system);
        let outcomes = run_text(&mut session, &self.statements, sql, params)?;
        Ok(last_rows(outcomes))
    }

    /// Parses `sql` (one statement) once, for running many times.
    pub fn prepare(&self, sql: &str) -> SqlResult<PreparedStatement> {
        let statement = heliosdb_sql::parser::parse_one(sql)?;
        Ok(PreparedStatement {
            db: self.db.clone(),
            system: self.system.clone(),
            statement,
        })
    }

    /// A connection whose settings last across calls (`SET hnsw.ef_search = 64`), as a
    /// PostgreSQL connection's do. Outside `BEGIN`, each statement is its own transaction.
    pub fn connect(&self) -> Connection {
        Connection {
            session: session(&self.db, &self.system),
            statements: self.statements.clone(),
        }
    }

    /// Begins a transaction.
    pub fn transaction(&self) -> SqlResult<Transaction> {
        let mut session = session(&self.db, &self.system);
        session.execute("BEGIN", &[])?;
        Ok(Transaction {
            session,
            statements: self.statements.clone(),
            done: false,
        })
    }
}
