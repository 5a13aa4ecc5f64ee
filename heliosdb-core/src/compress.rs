//! Compressed TEXT values in row tables: which codec a column uses, FSST symbol tables,
//! training and drift, and the per-column compression statistics.
//!
//! # Values
//! A TEXT value of a column whose effective compression is FSST, LZ4 or auto is stored as
//! `9 | u32 LE symbol-table id | u32 LE code length | FSST codes` or
//! `10 | u32 LE length | heliosdb_compress::lz4 bytes` (see `value.rs`) when that is
//! shorter than the plain `5 | u32 LE length | UTF-8`; otherwise plain. Each value is
//! self-contained, so values written before a column had a symbol table stay plain and
//! stay readable. Primary-key columns are never compressed; columnar tables choose their
//! own codecs (`columnar.rs`). Decoding is bounded (LZ4 by [`VALUE_BYTES_MAX`], FSST by
//! 8 output bytes per code) and damaged bytes are [`Error::Corrupt`].
//!
//! The effective setting of a column is its own `StorageOptions::column(id)`, else the
//! table's `StorageOptions::compression`: `none` stores plain; `fsst` uses the column's
//! current symbol table; `lz4` tries LZ4 on values of 32 bytes or more; `auto` uses FSST
//! once a trained table gave at least 1.3× on the column's sample, and LZ4 for values of
//! 1 KiB or more, whichever is shorter.
//!
//! # Symbol tables: the `core.fsst` extension
//! Kept per column in the table's catalog extension [`FSST_EXTENSION`]:
//! `u8 format (1) | u32 LE n | n × (u32 LE column id | u32 LE table id | u32 LE length |
//! SymbolTable::to_bytes)`. A column's current table is the one with the highest id; ids
//! are never reused within a column, and no table is ever removed while its column exists,
//! because history versions may still reference it (at most [`TABLES_PER_COLUMN_MAX`] per
//! column: once a column has that many, drift no longer adds tables).
//!
//! Unlike other extensions, `core.fsst` is local to this database file: it is written
//! without a change record (stored values never leave the node; the log carries plain
//! values) and a `SetExtension` of it arriving from elsewhere is ignored, so a replica's
//! own tables are never overwritten by another node's.
//!
//! # Training and drift
//! While a column set to FSST (or auto) has no table, the writer keeps a sample of the
//! values written to it (each value's first 1 KiB, up to 16 KiB in all) in memory beside
//! the table's schema, across transactions of the same schema version. A table is trained
//! as soon as the sample holds 16 KiB, or at a commit once it holds 64 values; the new
//! table is stored in the same write transaction and used from the next value on. Under
//! auto, a table that does not reach 1.3× on the sample is not kept, and the column is
//! sampled again after 8,192 more values. Every 8,192 values written to a column that has
//! a table, a table is trained on the last ~1,024 values and compared with the current
//! one on them: if it encodes them at least 15% shorter, it becomes the column's current
//! table. `WriteTxn::set_column_compression` (SQL `ALTER TABLE … SET COMPRESSION`) trains
//! on a sample of the existing values (a reservoir of 1,024 values, ≤ 16 KiB) and rewrites
//! the table's current rows in place: same values, same `valid_from`, no history entry and
//! no change record (only the setting itself is logged, as a schema change).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use heliosdb_compress::fsst::SymbolTable;

use crate::error::{Error, Result};
use crate::read::ReadTxn;
use crate::schema::{ColumnId, TableSchema};
use crate::storage::{ColumnCompression, TableCompression};
use crate::value::{
    DataType, StoredRef, TAG_TEXT_FSST, TAG_TEXT_LZ4, VALUE_BYTES_MAX, ValueCow, encode_plain_text,
};

/// The extension key of a table's FSST symbol tables.
pub const FSST_EXTENSION: &str = "core.fsst";
/// The encoding of [`FSST_EXTENSION`] this build writes and the newest it reads.
const FSST_FORMAT: u8 = 1;
/// The most symbol tables one column keeps.
pub(crate) const TABLES_PER_COLUMN_MAX: usize = 16;
/// A training sample's size.
const SAMPLE_BYTES: usize = 16 * 1024;
/// How much of one value goes into a sample.
const PIECE_BYTES: usize = 1024;
/// A sample trains at commit once it has this many values.
const TRAIN_VALUES_MIN: usize = 64;
/// How often (in values written to a column) drift is checked.
const DRIFT_EVERY: u64 = 8192;
/// How many of the values before a drift check are sampled for it.
const DRIFT_WINDOW: u64 = 1024;
/// Under auto, FSST is kept only at this ratio or better.
const AUTO_RATIO_MIN: f64 = 1.3;
/// A fresh table replaces the current one when it encodes the sample this much shorter.
const DRIFT_GAIN: f64 = 0.85;
/// LZ4 is tried on values at least this long with `lz4`, and with `auto`.
const LZ4_MIN: usize = 32;
const LZ4_AUTO_MIN: usize = 1024;
/// Values in the reservoir `ALTER … SET COMPRESSION` trains on.
const RESERVOIR: usize = 1024;

fn corrupt(why: impl Into<String>) -> Error {
    Error::Corrupt(why.into())
}

// ---------------------------------------------------------------------------------------
// The core.fsst extension
// ---------------------------------------------------------------------------------------

/// One stored symbol table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FsstEntry {
    pub column: ColumnId,
    pub id: u32,
    pub bytes: Vec<u8>,
}

pub(crate) fn encode_entries(entries: &[FsstEntry]) -> Vec<u8> {
    let mut out = vec![FSST_FORMAT];
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&e.column.to_le_bytes());
        out.extend_from_slice(&e.id.to_le_bytes());
        out.extend_from_slice(&(e.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.bytes);
    }
    out
}

pub(crate) fn decode_entries(bytes: &[u8]) -> Result<Vec<FsstEntry>> {
    let mut r = crate::value::Reader::new(bytes, "FSST symbol tables (core.fsst)");
    let version = r.u8()?;
    if version > FSST_FORMAT {
        return Err(Error::NewerFormat {
            found: version as u32,
            supported: FSST_FORMAT as u32,
        });
    }
    let n = r.u32()? as usize;
    // Each entry takes at least 12 bytes: a hostile count cannot reserve more.
    if n > bytes.len() / 12 {
        return Err(r.corrupt("more entries than bytes"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let column = r.u32()?;
        let id = r.u32()?;
        let len = r.u32()? as usize;
        out.push(FsstEntry {
            column,
            id,
            bytes: r.take(len)?.to_vec(),
        });
    }
    if !r.is_empty() {
        return Err(r.corrupt("trailing bytes"));
    }
    Ok(out)
}

/// A table's parsed symbol tables, by column id; each column's in id order.
#[derive(Default)]
pub(crate) struct FsstTables {
    columns: HashMap<ColumnId, Vec<(u32, Arc<SymbolTable>)>>,
    /// Why the extension could not be read, if it could not.
    broken: Option<String>,
}

impl FsstTables {
    fn parse(table: &TableSchema) -> FsstTables {
        let Some(bytes) = table.extensions.get(FSST_EXTENSION) else {
            return FsstTables::default();
        };
        let parsed = (|| -> Result<FsstTables> {
            let mut columns: HashMap<ColumnId, Vec<(u32, Arc<SymbolTable>)>> = HashMap::new();
            for e in decode_entries(bytes)? {
                let st = SymbolTable::from_bytes(&e.bytes).map_err(|err| {
                    corrupt(format!(
                        "symbol table #{} of {}.#{}: {err}",
                        e.id, table.name, e.column
                    ))
                })?;
                columns
                    .entry(e.column)
                    .or_default()
                    .push((e.id, Arc::new(st)));
            }
            for list in columns.values_mut() {
                list.sort_by_key(|(id, _)| *id);
                if list.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(corrupt(format!(
                        "table {} has two FSST symbol tables with one id",
                        table.name
                    )));
                }
            }
            Ok(FsstTables {
                columns,
                broken: None,
            })
        })();
        parsed.unwrap_or_else(|e| FsstTables {
            columns: HashMap::new(),
            broken: Some(e.to_string()),
        })
    }

    fn get(&self, column: ColumnId, id: u32) -> Option<&SymbolTable> {
        let list = self.columns.get(&column)?;
        let at = list.binary_search_by_key(&id, |(i, _)| *i).ok()?;
        Some(&list[at].1)
    }

    fn current(&self, column: ColumnId) -> Option<(u32, Arc<SymbolTable>)> {
        self.columns.get(&column)?.last().cloned()
    }

    fn count(&self, column: ColumnId) -> usize {
        self.columns.get(&column).map_or(0, Vec::len)
    }
}

// ---------------------------------------------------------------------------------------
// Per-column codecs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    Fsst,
    Lz4,
    Auto,
}

pub(crate) struct ColumnCodec {
    pub mode: Mode,
    pub id: ColumnId,
    /// The symbol table new values use.
    current: Option<(u32, Arc<SymbolTable>)>,
    /// The column may get (more) symbol tables.
    trainable: bool,
}

/// How a table's row values are encoded, per column position.
pub(crate) struct RowCodecs {
    pub columns: Vec<ColumnCodec>,
    /// Some column compresses.
    pub any: bool,
    /// Some column samples its values (for a first table or a drift check).
    pub sampling: bool,
}

/// The effective setting of column `at` of a row table.
pub(crate) fn effective_mode(table: &TableSchema, at: usize) -> Mode {
    let column = &table.columns[at];
    if table.is_columnar() || column.data_type != DataType::Text || table.primary_key.contains(&at)
    {
        return Mode::Off;
    }
    let storage = table.storage();
    match storage.column(column.id) {
        Some(ColumnCompression::None) => Mode::Off,
        Some(ColumnCompression::Fsst) => Mode::Fsst,
        Some(ColumnCompression::Lz4) => Mode::Lz4,
        None => match storage.compression {
            TableCompression::None => Mode::Off,
            TableCompression::Auto => Mode::Auto,
        },
    }
}

impl RowCodecs {
    fn build(table: &TableSchema) -> RowCodecs {
        let fsst = table.fsst_tables();
        let columns: Vec<ColumnCodec> = (0..table.columns.len())
            .map(|at| {
                let mode = effective_mode(table, at);
                let id = table.columns[at].id;
                ColumnCodec {
                    mode,
                    id,
                    current: fsst.current(id),
                    trainable: matches!(mode, Mode::Fsst | Mode::Auto)
                        && fsst.broken.is_none()
                        && fsst.count(id) < TABLES_PER_COLUMN_MAX,
                }
            })
            .collect();
        RowCodecs {
            any: columns.iter().any(|c| c.mode != Mode::Off),
            sampling: columns.iter().any(|c| c.trainable),
            columns,
        }
    }
}

impl TableSchema {
    /// The parsed `core.fsst` extension, once per schema version.
    pub(crate) fn fsst_tables(&self) -> &FsstTables {
        self.cache
            .fsst
            .get_or_init(|| Arc::new(FsstTables::parse(self)))
    }

    /// How this table's values are encoded, once per schema version.
    pub(crate) fn row_codecs(&self) -> &RowCodecs {
        self.cache
            .codecs
            .get_or_init(|| Arc::new(RowCodecs::build(self)))
    }

    /// Whether training is due now (a sample filled, or a drift check came up).
    pub(crate) fn text_training_due(&self) -> bool {
        self.cache.training.due.load(Ordering::Relaxed)
    }

    /// Whether a sample waits for the commit to train.
    pub(crate) fn text_training_at_commit(&self) -> bool {
        self.cache.training.at_commit.load(Ordering::Relaxed)
    }
}

/// Appends `s` as stored in a column with codec `c`: the shortest of the plain form and the
/// forms `c` allows.
pub(crate) fn encode_text(c: &ColumnCodec, s: &str, out: &mut Vec<u8>) {
    let start = out.len();
    let plain = 5 + s.len();
    let mut best: Option<usize> = None; // the length of the candidate at `start`
    if matches!(c.mode, Mode::Fsst | Mode::Auto)
        && let Some((id, st)) = &c.current
        && !s.is_empty()
    {
        out.push(TAG_TEXT_FSST);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        st.encode(s.as_bytes(), out);
        let total = out.len() - start;
        if total < plain {
            let codes = (total - 9) as u32;
            out[start + 5..start + 9].copy_from_slice(&codes.to_le_bytes());
            best = Some(total);
        } else {
            out.truncate(start);
        }
    }
    let lz4_min = if c.mode == Mode::Lz4 {
        LZ4_MIN
    } else {
        LZ4_AUTO_MIN
    };
    if matches!(c.mode, Mode::Lz4 | Mode::Auto) && s.len() >= lz4_min {
        let at = out.len();
        out.push(TAG_TEXT_LZ4);
        out.extend_from_slice(&[0; 4]);
        heliosdb_compress::lz4::compress(s.as_bytes(), out);
        let total = out.len() - at;
        if total < best.unwrap_or(plain) {
            let len = (total - 5) as u32;
            out[at + 1..at + 5].copy_from_slice(&len.to_le_bytes());
            if at != start {
                out.copy_within(at.., start);
                out.truncate(start + total);
            }
            best = Some(total);
        } else {
            out.truncate(at);
        }
    }
    if best.is_none() {
        encode_plain_text(s, out);
    }
}

/// Decodes a value of column `at` as read from a stored row.
pub(crate) fn decode_stored<'a>(
    table: &TableSchema,
    at: usize,
    value: StoredRef<'a>,
) -> Result<ValueCow<'a>> {
    let bytes = match value {
        StoredRef::Plain(v) => return Ok(ValueCow::Ref(v)),
        compressed => decode_compressed(table, at, compressed)?,
    };
    String::from_utf8(bytes).map(ValueCow::Text).map_err(|_| {
        corrupt(format!(
            "a compressed value of {}.{} is not UTF-8",
            table.name,
            column_name(table, at)
        ))
    })
}

fn column_name(table: &TableSchema, at: usize) -> &str {
    table.columns.get(at).map_or("?", |c| c.name.as_str())
}

/// The decompressed bytes of a compressed value of column `at`.
fn decode_compressed(table: &TableSchema, at: usize, value: StoredRef<'_>) -> Result<Vec<u8>> {
    let column = table
        .columns
        .get(at)
        .filter(|c| c.data_type == DataType::Text)
        .ok_or_else(|| {
            corrupt(format!(
                "a row of {} holds a compressed text in column #{at}, which is not TEXT",
                table.name
            ))
        })?;
    let mut out = Vec::new();
    match value {
        StoredRef::Plain(_) => {}
        StoredRef::Fsst { table: id, codes } => {
            let tables = table.fsst_tables();
            let Some(st) = tables.get(column.id, id) else {
                return Err(corrupt(match &tables.broken {
                    Some(why) => format!(
                        "the FSST symbol tables of {} cannot be read: {why}",
                        table.name
                    ),
                    None => format!(
                        "a value of {}.{} uses FSST symbol table #{id}, which the catalog \
                         does not have",
                        table.name, column.name
                    ),
                }));
            };
            st.decode(codes, &mut out).map_err(|e| {
                corrupt(format!(
                    "an FSST value of {}.{}: {e}",
                    table.name, column.name
                ))
            })?;
            if out.len() > VALUE_BYTES_MAX {
                return Err(corrupt(format!(
                    "an FSST value of {}.{} decodes to over {VALUE_BYTES_MAX} bytes",
                    table.name, column.name
                )));
            }
        }
        StoredRef::Lz4(bytes) => {
            heliosdb_compress::lz4::decompress(bytes, VALUE_BYTES_MAX, &mut out).map_err(|e| {
                corrupt(format!(
                    "an LZ4 value of {}.{}: {e}",
                    table.name, column.name
                ))
            })?;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------

/// What the writer has seen of a table's compressed columns since its schema version
/// began: samples for training and counters for drift checks. In memory only.
#[derive(Default)]
pub(crate) struct Training {
    due: AtomicBool,
    at_commit: AtomicBool,
    columns: Mutex<HashMap<ColumnId, Sample>>,
}

#[derive(Default)]
struct Sample {
    pieces: Vec<Vec<u8>>,
    bytes: usize,
    /// Values written to the column (under this schema version, or since the last
    /// rejection under auto).
    seen: u64,
    /// Auto found FSST not worth it; sample again after `DRIFT_EVERY` values.
    rejected: bool,
    /// A drift check is due.
    drift_due: bool,
}

impl Sample {
    fn push(&mut self, s: &[u8]) {
        if self.bytes >= SAMPLE_BYTES || s.is_empty() {
            return;
        }
        let piece = &s[..s.len().min(PIECE_BYTES)];
        self.bytes += piece.len();
        self.pieces.push(piece.to_vec());
    }

    fn clear(&mut self) {
        self.pieces.clear();
        self.bytes = 0;
    }
}

/// Notes the TEXT values of a row being written, for training and drift checks.
pub(crate) fn observe(table: &TableSchema, values: &[crate::value::Value]) {
    let codecs = table.row_codecs();
    if !codecs.sampling {
        return;
    }
    let training = &table.cache.training;
    let Ok(mut columns) = training.columns.lock() else {
        return;
    };
    for (c, v) in codecs.columns.iter().zip(values) {
        let crate::value::Value::Text(s) = v else {
            continue;
        };
        if !c.trainable {
            continue;
        }
        let sample = columns.entry(c.id).or_default();
        sample.seen += 1;
        if c.current.is_none() {
            if sample.rejected {
                if sample.seen < DRIFT_EVERY {
                    continue;
                }
                sample.rejected = false;
                sample.seen = 0;
            }
            sample.push(s.as_bytes());
            if sample.bytes >= SAMPLE_BYTES {
                training.due.store(true, Ordering::Relaxed);
            } else if sample.pieces.len() >= TRAIN_VALUES_MIN {
                training.at_commit.store(true, Ordering::Relaxed);
            }
        } else {
            let phase = sample.seen % DRIFT_EVERY;
            if phase == 0 || phase > DRIFT_EVERY - DRIFT_WINDOW {
                sample.push(s.as_bytes());
            }
            if phase == 0 {
                sample.drift_due = true;
                training.due.store(true, Ordering::Relaxed);
            }
        }
    }
}

fn fsst_size(st: &SymbolTable, pieces: &[Vec<u8>], scratch: &mut Vec<u8>) -> usize {
    pieces
        .iter()
        .map(|p| {
            scratch.clear();
            st.encode(p, scratch);
            // Stored as FSST only when shorter than plain.
            (9 + scratch.len()).min(5 + p.len())
        })
        .sum()
}

fn train(pieces: &[Vec<u8>]) -> SymbolTable {
    SymbolTable::train(pieces.iter().map(Vec::as_slice))
}

/// Symbol tables to add, by column id, decided from the samples of `table`: first tables
/// for columns whose sample is ready (`at_commit`: at least 64 values; else 16 KiB), and
/// drift replacements that are due. Clears what it used.
pub(crate) fn plan_training(table: &TableSchema, at_commit: bool) -> Vec<(ColumnId, SymbolTable)> {
    let training = &table.cache.training;
    training.due.store(false, Ordering::Relaxed);
    if at_commit {
        training.at_commit.store(false, Ordering::Relaxed);
    }
    let codecs = table.row_codecs();
    let Ok(mut columns) = training.columns.lock() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for c in codecs.columns.iter().filter(|c| c.trainable) {
        let Some(sample) = columns.get_mut(&c.id) else {
            continue;
        };
        match &c.current {
            None => {
                let ready = sample.bytes >= SAMPLE_BYTES
                    || (at_commit && sample.pieces.len() >= TRAIN_VALUES_MIN);
                if !ready || sample.rejected {
                    if at_commit && sample.pieces.len() >= TRAIN_VALUES_MIN {
                        training.at_commit.store(true, Ordering::Relaxed);
                    }
                    continue;
                }
                let st = train(&sample.pieces);
                let plain: usize = sample.pieces.iter().map(|p| 5 + p.len()).sum();
                let stored = fsst_size(&st, &sample.pieces, &mut scratch).max(1);
                sample.clear();
                if c.mode == Mode::Auto && (plain as f64) < AUTO_RATIO_MIN * stored as f64 {
                    sample.rejected = true;
                    sample.seen = 0;
                    continue;
                }
                out.push((c.id, st));
            }
            Some((_, current)) => {
                if !sample.drift_due {
                    continue;
                }
                sample.drift_due = false;
                if sample.pieces.is_empty() {
                    continue;
                }
                let fresh = train(&sample.pieces);
                let now = fsst_size(current, &sample.pieces, &mut scratch);
                let then = fsst_size(&fresh, &sample.pieces, &mut scratch);
                sample.clear();
                if (then as f64) <= DRIFT_GAIN * now as f64 {
                    out.push((c.id, fresh));
                }
            }
        }
    }
    out
}

/// The `core.fsst` extension of `table` with `added` appended, each under the next id of
/// its column; `None` when nothing can be added (the extension is unreadable, or every
/// column named is full).
pub(crate) fn add_tables(
    table: &TableSchema,
    added: Vec<(ColumnId, SymbolTable)>,
) -> Result<Option<Vec<u8>>> {
    let mut entries = match table.extensions.get(FSST_EXTENSION) {
        Some(bytes) => decode_entries(bytes)?,
        None => Vec::new(),
    };
    let mut changed = false;
    for (column, st) in added {
        let existing = entries.iter().filter(|e| e.column == column);
        if existing.clone().count() >= TABLES_PER_COLUMN_MAX {
            continue;
        }
        let id = existing
            .map(|e| e.id)
            .max()
            .map_or(Some(0), |m| m.checked_add(1));
        let Some(id) = id else { continue };
        entries.push(FsstEntry {
            column,
            id,
            bytes: st.to_bytes(),
        });
        changed = true;
    }
    Ok(changed.then(|| encode_entries(&entries)))
}

/// A reservoir sample of TEXT values (each value's first 1 KiB), trimmed to 16 KiB.
#[derive(Default)]
pub(crate) struct Reservoir {
    pieces: Vec<Vec<u8>>,
    seen: u64,
    rng: u64,
}

impl Reservoir {
    pub(crate) fn offer(&mut self, s: &[u8]) {
        if s.is_empty() {
            return;
        }
        self.seen += 1;
        let piece = || s[..s.len().min(PIECE_BYTES)].to_vec();
        if self.pieces.len() < RESERVOIR {
            self.pieces.push(piece());
            return;
        }
        // splitmix64: deterministic, so the same data trains the same table.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let at = z % self.seen;
        if (at as usize) < RESERVOIR {
            self.pieces[at as usize] = piece();
        }
    }

    /// A symbol table trained on the sample, if it holds anything.
    pub(crate) fn train(mut self) -> Option<SymbolTable> {
        let mut total = 0;
        self.pieces.retain(|p| {
            total += p.len();
            total <= SAMPLE_BYTES || total == p.len()
        });
        (!self.pieces.is_empty()).then(|| train(&self.pieces))
    }
}

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

/// How one column of a table is stored: see [`ReadTxn::compression_stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnStats {
    pub column: String,
    /// The codecs the column's stored values use, most used first, joined by `+`
    /// (`fsst`, `lz4`, `none`, e.g. `fsst+none`); a column without stored values shows its
    /// setting (`none`, `fsst`, `lz4`, `auto`).
    pub codec: String,
    /// Values stored (NULLs included; values of columns added after a row was written,
    /// which the row does not hold, are not).
    pub values: u64,
    /// Bytes the values take in the plain row-value encoding.
    pub raw_bytes: u64,
    /// Bytes they take as stored.
    pub stored_bytes: u64,
}

/// Running totals of one column.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnTotals {
    pub values: u64,
    pub raw: u64,
    pub stored: u64,
    /// Values stored plain, as FSST, as LZ4.
    pub by_codec: [u64; 3],
}

/// Adds one stored value (its tag and framed bytes) of column `at` to `totals`.
pub(crate) fn measure(
    table: &TableSchema,
    at: usize,
    tag: u8,
    framed: &[u8],
    totals: &mut ColumnTotals,
) -> Result<()> {
    totals.values += 1;
    totals.stored += framed.len() as u64;
    let (kind, raw) = match tag {
        TAG_TEXT_FSST | TAG_TEXT_LZ4 => {
            let mut r = crate::value::Reader::new(framed, "row");
            let value = r.stored_ref()?;
            let kind = if tag == TAG_TEXT_FSST { 1 } else { 2 };
            (kind, 5 + decode_compressed(table, at, value)?.len() as u64)
        }
        _ => (0, framed.len() as u64),
    };
    totals.by_codec[kind] += 1;
    totals.raw += raw;
    Ok(())
}

fn codec_name(table: &TableSchema, at: usize, totals: &ColumnTotals) -> String {
    const NAMES: [&str; 3] = ["none", "fsst", "lz4"];
    let mut used: Vec<(u64, &str)> = totals
        .by_codec
        .iter()
        .zip(NAMES)
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| (*n, name))
        .collect();
    if used.is_empty() {
        return match effective_mode(table, at) {
            Mode::Off => "none",
            Mode::Fsst => "fsst",
            Mode::Lz4 => "lz4",
            Mode::Auto => "auto",
        }
        .into();
    }
    used.sort_by_key(|x| std::cmp::Reverse(x.0));
    used.iter().map(|(_, n)| *n).collect::<Vec<_>>().join("+")
}

impl ReadTxn {
    /// Per column of `table`: the codec its stored values use, how many values there are,
    /// and their plain and stored sizes. Row tables are measured by reading every current
    /// row (history versions are not counted); columnar tables report their row groups.
    pub fn compression_stats(&self, table: &str) -> Result<Vec<ColumnStats>> {
        let schema = self.table(table)?;
        if schema.is_columnar() {
            // Columnar tables: `columnar.rs` measures their row groups.
            return crate::columnar::compression_stats(self, schema);
        }
        let mut totals = vec![ColumnTotals::default(); schema.columns.len()];
        self.scan(table, ..)?
            .for_each(|row| row.measure(&mut totals).map(|()| true))?;
        Ok(schema
            .columns
            .iter()
            .zip(&totals)
            .enumerate()
            .map(|(at, (c, t))| ColumnStats {
                column: c.name.clone(),
                codec: codec_name(schema, at, t),
                values: t.values,
                raw_bytes: t.raw,
                stored_bytes: t.stored,
            })
            .collect())
    }
}
