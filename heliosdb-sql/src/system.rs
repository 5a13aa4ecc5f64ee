//! System tables: read-only tables that a layer above SQL provides by name, so that SQL can
//! show what it does not know about (the facade registers sync's `heliosdb_conflicts`).
//! A name that is a table or a view of the catalog wins over a system table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use heliosdb_core::{DataType, Database, Value};

/// One system table: its columns and a way to read its rows now.
pub trait SystemTable: Send + Sync {
    fn columns(&self) -> &[(String, DataType)];

    /// The rows, each with one value per column; an error says why they cannot be read.
    fn rows(&self) -> Result<Vec<Vec<Value>>, String>;
}

/// A table function: `SELECT * FROM name(args)`. Its columns are fixed; its rows depend
/// on the arguments (constants of the statement).
pub trait SystemFunction: Send + Sync {
    fn columns(&self) -> Vec<(String, DataType)>;

    /// The rows for `args`, each with one value per column; an error says what is wrong
    /// (with the arguments, or why the rows cannot be read).
    fn rows(&self, args: &[Value]) -> Result<Vec<Vec<Value>>, String>;
}

/// System tables and table functions by name.
#[derive(Clone, Default)]
pub struct SystemTables {
    tables: BTreeMap<String, Arc<dyn SystemTable>>,
    functions: BTreeMap<String, Arc<dyn SystemFunction>>,
}

impl SystemTables {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, name: &str, table: Arc<dyn SystemTable>) {
        self.tables.insert(name.to_owned(), table);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn SystemTable>> {
        self.tables.get(name)
    }

    pub fn register_function(&mut self, name: &str, function: Arc<dyn SystemFunction>) {
        self.functions.insert(name.to_owned(), function);
    }

    pub fn function(&self, name: &str) -> Option<&Arc<dyn SystemFunction>> {
        self.functions.get(name)
    }

    /// Adds `other`'s tables and functions (replacing those of the same name).
    pub fn extend(&mut self, other: &SystemTables) {
        self.tables
            .extend(other.tables.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.functions
            .extend(other.functions.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// The table functions of the SQL layer itself, over `db`.
pub fn register_builtins(tables: &mut SystemTables, db: &Database) {
    tables.register_function("heliosdb_commits", Arc::new(Commits { db: db.clone() }));
}

/// `heliosdb_commits([limit])`: the newest commits of the change log (100 unless a limit
/// is given), newest first, with the id `AS OF TRANSACTION` takes.
struct Commits {
    db: Database,
}

impl SystemFunction for Commits {
    fn columns(&self) -> Vec<(String, DataType)> {
        [
            ("commit_id", DataType::Integer),
            ("committed_at", DataType::Timestamp),
            ("origin_node", DataType::Text),
            ("origin_seq", DataType::Integer),
            ("origin_time", DataType::Timestamp),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect()
    }

    fn rows(&self, args: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        let limit = match args {
            [] => 100,
            [Value::Integer(n)] if *n >= 0 => *n as u64,
            _ => return Err("takes an optional row limit (a non-negative integer)".into()),
        };
        let r = self.db.begin_read().map_err(|e| e.to_string())?;
        let last = r.last_commit_seq().map_err(|e| e.to_string())?;
        let first = r.first_commit_seq().map_err(|e| e.to_string())?;
        let ts = |t: heliosdb_core::Hlc| {
            Value::Timestamp(
                i64::try_from(t.physical_ms().saturating_mul(1000)).unwrap_or(i64::MAX),
            )
        };
        let mut out = Vec::new();
        let mut seq = last;
        while seq >= first.max(1) && (out.len() as u64) < limit {
            if let Some(c) = r.commit(seq).map_err(|e| e.to_string())? {
                out.push(vec![
                    Value::Integer(c.commit_seq as i64),
                    ts(c.local_ts),
                    Value::Text(c.origin.to_string()),
                    Value::Integer(c.origin_seq as i64),
                    ts(c.commit_ts),
                ]);
            }
            seq -= 1;
        }
        Ok(out)
    }
}

impl fmt::Debug for SystemTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tables.keys()).finish()
    }
}
