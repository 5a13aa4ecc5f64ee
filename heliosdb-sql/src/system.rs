//! System tables: read-only tables that a layer above SQL provides by name, so that SQL can
//! show what it does not know about (the facade registers sync's `heliosdb_conflicts`).
//! A name that is a table or a view of the catalog wins over a system table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use heliosdb_core::{DataType, Value};

/// One system table: its columns and a way to read its rows now.
pub trait SystemTable: Send + Sync {
    fn columns(&self) -> &[(String, DataType)];

    /// The rows, each with one value per column; an error says why they cannot be read.
    fn rows(&self) -> Result<Vec<Vec<Value>>, String>;
}

/// System tables by name.
#[derive(Clone, Default)]
pub struct SystemTables {
    tables: BTreeMap<String, Arc<dyn SystemTable>>,
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
}

impl fmt::Debug for SystemTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tables.keys()).finish()
    }
}
