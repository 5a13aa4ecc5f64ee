//! How a table stores its rows: the layout (row or columnar) and per-column compression.
//!
//! Kept in the table's catalog extension [`STORAGE_EXTENSION`] as
//! `u8 format (1) | postcard(StorageOptions)`, so it persists and replicates with the
//! schema like every other extension, and files without it read as plain row tables.
//! The parsed form is cached on the `TableSchema` (see [`TableSchema::storage`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::{ColumnId, TableSchema};

/// The extension key of [`StorageOptions`].
pub const STORAGE_EXTENSION: &str = "core.storage";
/// The encoding of [`StorageOptions`] this build writes and the newest it reads.
pub const STORAGE_FORMAT: u8 = 1;

/// Where a table's rows live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Layout {
    /// One B-tree entry per row (the default).
    #[default]
    Row,
    /// Row groups, each column encoded on its own with the best codec, min/max zone maps.
    Columnar,
}

/// The compression a row table's TEXT column uses for new values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ColumnCompression {
    /// Stored as written.
    #[default]
    None,
    /// LZ4, for long values.
    Lz4,
    /// FSST with a symbol table trained on the column's values.
    Fsst,
}

/// The default for columns without their own setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TableCompression {
    /// Nothing is compressed unless a column says so.
    #[default]
    None,
    /// TEXT columns pick FSST or LZ4 by what pays on their values.
    Auto,
}

/// A table's storage settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageOptions {
    pub layout: Layout,
    pub compression: TableCompression,
    /// Per-column settings by column id; they override `compression`.
    pub columns: BTreeMap<ColumnId, ColumnCompression>,
}

impl StorageOptions {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![STORAGE_FORMAT];
        // Serializing plain enums and maps into a Vec cannot fail.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StorageOptions> {
        let (&version, body) = bytes
            .split_first()
            .ok_or_else(|| Error::Corrupt("storage options truncated".into()))?;
        if version > STORAGE_FORMAT {
            return Err(Error::NewerFormat {
                found: version as u32,
                supported: STORAGE_FORMAT as u32,
            });
        }
        postcard::from_bytes(body).map_err(|e| Error::Corrupt(format!("storage options: {e}")))
    }

    /// The setting of column `id`, `None` when it follows the table default.
    pub fn column(&self, id: ColumnId) -> Option<ColumnCompression> {
        self.columns.get(&id).copied()
    }
}

/// Parsed forms of a table's extensions, computed once per schema version. Not persisted;
/// a cloned schema starts empty, so a changed schema never sees a stale parse.
#[derive(Default)]
pub(crate) struct SchemaCache {
    pub(crate) storage: OnceLock<Arc<StorageOptions>>,
    /// The parsed `core.fsst` extension (see `compress.rs`).
    pub(crate) fsst: OnceLock<Arc<crate::compress::FsstTables>>,
    /// How row values are encoded per column (see `compress.rs`).
    pub(crate) codecs: OnceLock<Arc<crate::compress::RowCodecs>>,
    /// Training samples and drift counters of compressed TEXT columns; they live as long as
    /// this schema version (see `compress.rs`).
    pub(crate) training: crate::compress::Training,
}

impl Clone for SchemaCache {
    fn clone(&self) -> Self {
        SchemaCache::default()
    }
}

impl PartialEq for SchemaCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaCache")
    }
}

impl TableSchema {
    /// The table's storage settings (defaults when it has none). A damaged extension reads
    /// as the defaults here; [`TableSchema::check_storage`] reports it.
    pub fn storage(&self) -> &StorageOptions {
        self.cache.storage.get_or_init(|| {
            Arc::new(
                self.extensions
                    .get(STORAGE_EXTENSION)
                    .and_then(|b| StorageOptions::decode(b).ok())
                    .unwrap_or_default(),
            )
        })
    }

    /// Whether the storage extension parses (checked when the catalog loads).
    pub(crate) fn check_storage(&self) -> Result<()> {
        match self.extensions.get(STORAGE_EXTENSION) {
            Some(b) => StorageOptions::decode(b).map(|_| ()),
            None => Ok(()),
        }
    }

    pub fn is_columnar(&self) -> bool {
        self.storage().layout == Layout::Columnar
    }
}
