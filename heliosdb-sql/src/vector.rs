//! Vector search in SQL: HNSW indexes on `VECTOR(n)` columns, their persistence, their
//! upkeep from the change log, and the `ORDER BY col <op> q LIMIT k` plans that use them.
//!
//! An HNSW index is derived data. Its definition ([`HnswDef`]) lives with the table (the
//! table extension `hnsw`, so it replicates with the schema); its contents live only in
//! this file, in core's aux records, never in the change log:
//!
//! ```text
//! aux "vidx/" ++ table id u32 BE ++ "/" ++ index name ++ "/meta"      the index's meta
//! aux "vidx/" ++ table id u32 BE ++ "/" ++ index name ++ "/seg/" ++ u64 BE id
//!                                                  one segment (heliosdb-vector's encoding)
//! aux ... "/tomb/" ++ u64 BE id     keys dead in older segments when segment `id` was built
//! ```
//!
//! Meta, version 1: `u8 1 | u64 LE generation | u64 LE built_seq | u64 LE next segment id |
//! u32 LE n | n × u64 LE segment id` (oldest first). Tombstones, version 1: `u8 1 | u32 LE n
//! | n × (u32 LE length, key bytes)`.
//!
//! The index reflects the table as of commit `built_seq`; every row change after it is
//! read back from the change log. So a query sees committed changes at once: a
//! [`View`] is the loaded segments plus an exact buffer of the rows changed since
//! `built_seq` (heliosdb-vector's `VectorIndex`), brought up to the reader's snapshot by
//! reading only the log records it has not seen. Views are cached per open database
//! (core's `Database::extension`), so a query costs one log lookup when nothing changed.
//! Compaction (in the background once the buffer grows, or `REINDEX`) builds a segment
//! from the buffer, or rebuilds one segment from every live vector, and moves
//! `built_seq` forward in one write transaction.

use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use heliosdb_core::{
    Change, ColumnId, Database, ReadTxn, TableId, TableSchema, Value, ValueRef, WriteTxn, key,
};
pub use heliosdb_vector::Metric;
use heliosdb_vector::{HnswParams, Scratch, Segment, VectorIndex};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exec::Row;

/// The table extension that holds a table's HNSW index definitions.
pub const EXTENSION: &str = "hnsw";
const DEFS_FORMAT: u8 = 1;
const META_FORMAT: u8 = 1;
const TOMB_FORMAT: u8 = 1;

/// pgvector's bounds for `ef_search` and `ef_construction`, and for `m`.
pub const EF_MAX: u32 = 1000;
pub const M_RANGE: std::ops::RangeInclusive<u32> = 2..=100;

/// One HNSW index, as declared by `CREATE INDEX ... USING hnsw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswDef {
    pub name: String,
    /// The indexed column, by id (so renaming it keeps the index).
    pub column: ColumnId,
    /// 1 L2, 2 cosine, 3 inner product (heliosdb-vector's codes).
    pub metric: u8,
    /// Recorded as given; instant-distance's graph degree is fixed (M = 32, 64 on the
    /// ground layer), see ARCHITECTURE.md.
    pub m: u16,
    pub ef_construction: u32,
    /// The default for queries; `SET hnsw.ef_search` overrides it per session.
    pub ef_search: u32,
}

pub fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::Cosine => 2,
        Metric::InnerProduct => 3,
    }
}

pub fn metric_of_code(c: u8) -> Result<Metric> {
    match c {
        1 => Ok(Metric::L2),
        2 => Ok(Metric::Cosine),
        3 => Ok(Metric::InnerProduct),
        _ => Err(corrupt(format!("unknown vector metric code {c}"))),
    }
}

/// The operator class names of `CREATE INDEX ... USING hnsw (col OPCLASS)`.
pub fn metric_of_opclass(name: &str) -> Option<Metric> {
    match name {
        "vector_l2_ops" => Some(Metric::L2),
        "vector_cosine_ops" => Some(Metric::Cosine),
        "vector_ip_ops" => Some(Metric::InnerProduct),
        _ => None,
    }
}

pub fn opclass_of(m: Metric) -> &'static str {
    match m {
        Metric::L2 => "vector_l2_ops",
        Metric::Cosine => "vector_cosine_ops",
        Metric::InnerProduct => "vector_ip_ops",
    }
}

/// The SQL function that the index of metric `m` orders by (`<->`, `<=>`, `<#>`).
pub fn distance_function(m: Metric) -> &'static str {
    match m {
        Metric::L2 => "l2_distance",
        Metric::Cosine => "cosine_distance",
        Metric::InnerProduct => "vector_negative_inner_product",
    }
}

pub fn metric_of_function(name: &str) -> Option<Metric> {
    [Metric::L2, Metric::Cosine, Metric::InnerProduct]
        .into_iter()
        .find(|&m| distance_function(m) == name)
}

fn corrupt(why: impl Into<String>) -> Error {
    heliosdb_core::Error::Corrupt(why.into()).into()
}

fn vector_error(e: heliosdb_vector::Error) -> Error {
    Error::Execution(e.to_string())
}

/// The HNSW indexes of `table`.
pub fn defs(table: &TableSchema) -> Result<Vec<HnswDef>> {
    let Some(bytes) = table.extensions.get(EXTENSION) else {
        return Ok(Vec::new());
    };
    match bytes.split_first() {
        Some((&DEFS_FORMAT, rest)) => postcard::from_bytes(rest)
            .map_err(|e| corrupt(format!("hnsw index definitions of {}: {e}", table.name))),
        Some((v, _)) => Err(corrupt(format!(
            "hnsw index definitions of {} have format {v}, newer than this build reads",
            table.name
        ))),
        None => Err(corrupt(format!(
            "hnsw index definitions of {} are empty",
            table.name
        ))),
    }
}

pub fn save_defs(w: &mut WriteTxn, table: &str, defs: &[HnswDef]) -> Result<()> {
    let value = if defs.is_empty() {
        None
    } else {
        let mut bytes = vec![DEFS_FORMAT];
        bytes.extend(postcard::to_allocvec(defs).map_err(|e| corrupt(format!("encoding: {e}")))?);
        Some(bytes)
    };
    w.set_table_extension(table, EXTENSION, value)?;
    Ok(())
}

/// The table holding the HNSW index `name`, and its definition.
pub fn find(catalog: &heliosdb_core::Catalog, name: &str) -> Result<Option<(String, HnswDef)>> {
    for t in catalog.tables() {
        if let Some(d) = defs(t)?.into_iter().find(|d| d.name == name) {
            return Ok(Some((t.name.clone(), d)));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------

fn prefix(table: TableId, index: &str) -> Vec<u8> {
    let mut k = b"vidx/".to_vec();
    k.extend_from_slice(&table.to_be_bytes());
    k.push(b'/');
    k.extend_from_slice(index.as_bytes());
    k.push(b'/');
    k
}

fn meta_key(table: TableId, index: &str) -> Vec<u8> {
    let mut k = prefix(table, index);
    k.extend_from_slice(b"meta");
    k
}

fn segment_key(table: TableId, index: &str, id: u64) -> Vec<u8> {
    let mut k = prefix(table, index);
    k.extend_from_slice(b"seg/");
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn tomb_key(table: TableId, index: &str, id: u64) -> Vec<u8> {
    let mut k = prefix(table, index);
    k.extend_from_slice(b"tomb/");
    k.extend_from_slice(&id.to_be_bytes());
    k
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    generation: u64,
    built_seq: u64,
    next_segment: u64,
    segments: Vec<u64>,
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut b = vec![META_FORMAT];
        b.extend_from_slice(&self.generation.to_le_bytes());
        b.extend_from_slice(&self.built_seq.to_le_bytes());
        b.extend_from_slice(&self.next_segment.to_le_bytes());
        b.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        for s in &self.segments {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Result<Meta> {
        let bad = || corrupt("vector index meta record is damaged; run REINDEX");
        let (&v, mut rest) = b.split_first().ok_or_else(bad)?;
        if v != META_FORMAT {
            return Err(corrupt(format!(
                "vector index meta has format {v}, newer than this build reads"
            )));
        }
        let u64_at = |rest: &mut &[u8]| -> Result<u64> {
            let (h, t) = rest.split_at_checked(8).ok_or_else(bad)?;
            *rest = t;
            Ok(u64::from_le_bytes(h.try_into().map_err(|_| bad())?))
        };
        let generation = u64_at(&mut rest)?;
        let built_seq = u64_at(&mut rest)?;
        let next_segment = u64_at(&mut rest)?;
        let (n, mut rest) = rest.split_at_checked(4).ok_or_else(bad)?;
        let n = u32::from_le_bytes(n.try_into().map_err(|_| bad())?) as usize;
        if rest.len() != n * 8 {
            return Err(bad());
        }
        let mut segments = Vec::with_capacity(n);
        for _ in 0..n {
            segments.push(u64_at(&mut rest)?);
        }
        Ok(Meta {
            generation,
            built_seq,
            next_segment,
            segments,
        })
    }
}

fn encode_keys(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![TOMB_FORMAT];
    b.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        b.extend_from_slice(&(k.len() as u32).to_le_bytes());
        b.extend_from_slice(k);
    }
    b
}

fn decode_keys(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = || corrupt("vector index tombstones are damaged; run REINDEX");
    let (&v, rest) = b.split_first().ok_or_else(bad)?;
    if v != TOMB_FORMAT {
        return Err(bad());
    }
    let (n, mut rest) = rest.split_at_checked(4).ok_or_else(bad)?;
    let n = u32::from_le_bytes(n.try_into().map_err(|_| bad())?) as usize;
    if n > rest.len() / 4 {
        return Err(bad());
    }
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, t) = rest.split_at_checked(4).ok_or_else(bad)?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let (k, t) = t.split_at_checked(len).ok_or_else(bad)?;
        keys.push(k.to_vec());
        rest = t;
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(keys)
}

/// Removes everything the index stored in the file.
pub fn drop_storage(w: &mut WriteTxn, table: TableId, index: &str) -> Result<()> {
    for (k, _) in w.aux_scan(&prefix(table, index))? {
        w.aux_delete(&k)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------

/// An index as of one commit: its segments plus the rows changed since they were built.
pub struct View {
    pub generation: u64,
    /// The last commit this view reflects.
    pub seq: u64,
    pub def: HnswDef,
    pub index: VectorIndex<Vec<u8>>,
}

type IndexKey = (TableId, String);
/// A loaded segment, by its index and segment id.
type SegmentCache = HashMap<(TableId, String, u64), Arc<Segment<Vec<u8>>>>;

/// What an open database keeps of its vector indexes (one per `Database`, shared by
/// every session through core's `Database::extension`).
#[derive(Default)]
pub struct VectorState {
    views: Mutex<HashMap<IndexKey, Arc<View>>>,
    segments: Mutex<SegmentCache>,
    /// Indexes whose background compaction is running.
    compacting: Mutex<HashSet<IndexKey>>,
    /// Turns background compaction off (tests that count segments; benchmarks of the
    /// buffer). `REINDEX` still compacts.
    pub manual_only: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn vector_of(bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
}

/// The dimension of the indexed column.
fn dim_of(table: &TableSchema, def: &HnswDef) -> Result<(usize, u32)> {
    let pos = table
        .column_by_id(def.column)
        .ok_or_else(|| corrupt(format!("hnsw index {} names a missing column", def.name)))?;
    match table.columns[pos].data_type {
        heliosdb_core::DataType::Vector(n) => Ok((pos, n)),
        other => Err(corrupt(format!(
            "hnsw index {} is on a {other} column",
            def.name
        ))),
    }
}

impl VectorState {
    pub fn of(db: &Database) -> Arc<VectorState> {
        db.extension::<VectorState>()
    }

    fn segment(
        &self,
        r: &ReadTxn,
        table: TableId,
        index: &str,
        id: u64,
    ) -> Result<Arc<Segment<Vec<u8>>>> {
        let key = (table, index.to_owned(), id);
        if let Some(s) = lock(&self.segments).get(&key) {
            return Ok(s.clone());
        }
        let bytes = r.aux_get(&segment_key(table, index, id))?.ok_or_else(|| {
            corrupt(format!(
                "segment {id} of vector index {index} is missing; run REINDEX INDEX {index}"
            ))
        })?;
        let seg = Arc::new(Segment::decode(&bytes).map_err(|e| {
            corrupt(format!(
                "segment {id} of vector index {index}: {e}; run REINDEX INDEX {index}"
            ))
        })?);
        lock(&self.segments).insert(key, seg.clone());
        Ok(seg)
    }

    /// The index `def` of `table` as `r` sees it (committed data only).
    pub fn view(
        &self,
        db: &Database,
        r: &ReadTxn,
        table: &TableSchema,
        def: &HnswDef,
    ) -> Result<Arc<View>> {
        let seq = r.last_commit_seq()?;
        let key = (table.id, def.name.clone());
        let cached = lock(&self.views).get(&key).cloned();
        // Nothing committed since the cached view: it is this snapshot's index (a
        // compaction that swaps segments in drops the cached view, see `compact`).
        if let Some(v) = &cached
            && v.seq == seq
            && v.def == *def
        {
            return Ok(v.clone());
        }
        let meta = match r.aux_get(&meta_key(table.id, &def.name))? {
            Some(b) => Some(Meta::decode(&b)?),
            None => None,
        };
        let generation = meta.as_ref().map_or(0, |m| m.generation);
        let view = match cached {
            Some(v) if v.generation == generation && v.def == *def && v.seq == seq => return Ok(v),
            Some(v) if v.generation == generation && v.def == *def && v.seq < seq => {
                let mut index = v.index.clone();
                absorb(r, table, def, &mut index, v.seq)?;
                View {
                    generation,
                    seq,
                    def: def.clone(),
                    index,
                }
            }
            _ => self.load(r, table, def, meta.as_ref(), seq)?,
        };
        let view = Arc::new(view);
        {
            let mut views = lock(&self.views);
            let newer = views.get(&key).is_some_and(|c| {
                c.generation > generation || (c.generation == generation && c.seq > seq)
            });
            if !newer {
                views.insert(key.clone(), view.clone());
            }
        }
        self.maybe_compact(db, table, &view);
        Ok(view)
    }

    fn load(
        &self,
        r: &ReadTxn,
        table: &TableSchema,
        def: &HnswDef,
        meta: Option<&Meta>,
        seq: u64,
    ) -> Result<View> {
        let metric = metric_of_code(def.metric)?;
        let (pos, dim) = dim_of(table, def)?;
        let Some(meta) = meta else {
            // Declared (here or on a peer whose schema replicated) but never built: every
            // row is in the exact buffer until the first compaction.
            let mut index = VectorIndex::new(metric, dim, Vec::new()).map_err(vector_error)?;
            let mut v = Vec::new();
            r.scan(&table.name, ..)?.for_each(|row| {
                if let ValueRef::Vector(bytes) = row.get(pos)?.as_ref() {
                    vector_of(bytes, &mut v);
                    index.upsert(row.key_bytes()?, &v).map_err(vector_error)?;
                }
                Ok::<_, Error>(true)
            })?;
            return Ok(View {
                generation: 0,
                seq,
                def: def.clone(),
                index,
            });
        };
        let mut segments = Vec::with_capacity(meta.segments.len());
        for &id in &meta.segments {
            segments.push(self.segment(r, table.id, &def.name, id)?);
        }
        let mut index = VectorIndex::new(metric, dim, segments.clone()).map_err(vector_error)?;
        // A segment's tombstones kill the copies in older segments, unless a newer segment
        // holds the key again.
        for (i, &id) in meta.segments.iter().enumerate() {
            if let Some(b) = r.aux_get(&tomb_key(table.id, &def.name, id))? {
                for k in decode_keys(&b)? {
                    if !segments[i..].iter().any(|s| s.contains(&k)) {
                        index.remove(&k);
                    }
                }
            }
        }
        absorb(r, table, def, &mut index, meta.built_seq)?;
        Ok(View {
            generation: meta.generation,
            seq,
            def: def.clone(),
            index,
        })
    }

    fn maybe_compact(&self, db: &Database, table: &TableSchema, view: &Arc<View>) {
        if self.manual_only.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let buffered = view.index.buffer_len();
        let live = view.index.len();
        if buffered < COMPACT_BUFFER_MIN.max(live / 8) {
            return;
        }
        let key = (table.id, view.def.name.clone());
        if !lock(&self.compacting).insert(key.clone()) {
            return;
        }
        let (db, table_name, def, state) = (
            db.clone(),
            table.name.clone(),
            view.def.clone(),
            VectorState::of(db),
        );
        let spawned = std::thread::Builder::new()
            .name("heliosdb-vector-compact".into())
            .spawn(move || {
                // A failure leaves the index as it was (still correct, only slower); the
                // next query past the threshold tries again.
                let _ = compact(&db, &table_name, &def, Compaction::Auto);
                lock(&state.compacting).remove(&key);
            });
        if spawned.is_err() {
            lock(&self.compacting).remove(&(table.id, view.def.name.clone()));
        }
    }
}

/// A background compaction starts once this many vectors are buffered (and an eighth
/// of the live ones).
pub const COMPACT_BUFFER_MIN: usize = 2_000;
/// An incremental compaction adds a segment; past this many, all are merged into one.
pub const SEGMENTS_MAX: usize = 4;

/// Brings `index` from commit `from` up to `r`'s snapshot by re-reading every row that
/// changed in between.
fn absorb(
    r: &ReadTxn,
    table: &TableSchema,
    def: &HnswDef,
    index: &mut VectorIndex<Vec<u8>>,
    from: u64,
) -> Result<()> {
    let (pos, _) = dim_of(table, def)?;
    // The records name tables as they were called then: follow renames backwards from the
    // current name to the name at `from`, then forwards through the records.
    let mut records: Vec<(String, Option<String>, Option<Vec<u8>>)> = Vec::new();
    let mut after = heliosdb_core::LogPosition::end_of_commit(from);
    loop {
        let batch = r.changes_after(after, 4096)?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for rec in batch {
            let entry = match rec.change {
                Change::Insert { key, .. } | Change::Delete { key } => {
                    (None, Some(key::encode(&key)))
                }
                Change::Update { key, columns } => {
                    if !columns.iter().any(|(c, _)| *c == def.column) {
                        continue;
                    }
                    (None, Some(key::encode(&key)))
                }
                Change::Schema(heliosdb_core::SchemaChange::RenameTable { to }) => (Some(to), None),
                Change::Schema(_) => continue,
            };
            records.push((rec.table, entry.0, entry.1));
        }
    }
    let mut name = table.name.clone();
    for (old, to, _) in records.iter().rev() {
        if to.as_deref() == Some(name.as_str()) {
            name = old.clone();
        }
    }
    let mut changed: BTreeSet<Vec<u8>> = BTreeSet::new();
    for (t, to, k) in records {
        if t != name {
            continue;
        }
        match (to, k) {
            (Some(to), _) => name = to,
            (None, Some(k)) => {
                changed.insert(k);
            }
            (None, None) => {}
        }
    }
    let mut v = Vec::new();
    for k in changed {
        let values = key::decode(&k)?;
        match r.get(&table.name, &values)? {
            Some(row) => match row.get(pos)?.as_ref() {
                ValueRef::Vector(bytes) => {
                    vector_of(bytes, &mut v);
                    index.upsert(k, &v).map_err(vector_error)?;
                }
                _ => index.remove(&k),
            },
            None => index.remove(&k),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Building and compaction
// ---------------------------------------------------------------------------------------

/// How a compaction chooses what to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// In the background: a segment from the buffer, or a merge once there are many
    /// segments or many dead vectors; builds with one thread.
    Auto,
    /// `REINDEX`: one segment from every live vector, with every core.
    Full,
}

fn params(def: &HnswDef, threads: usize) -> HnswParams {
    HnswParams {
        m: def.m,
        ef_construction: def.ef_construction,
        ef_search: def.ef_search,
        threads,
        ..HnswParams::default()
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the first segment of a new index inside the write transaction that creates it,
/// from the rows that transaction sees.
pub fn build_initial(w: &mut WriteTxn, table: &TableSchema, def: &HnswDef) -> Result<()> {
    let metric = metric_of_code(def.metric)?;
    let (pos, dim) = dim_of(table, def)?;
    let mut items = Vec::new();
    for row in w.scan(&table.name, ..)? {
        let row = row?;
        if let Some(Value::Vector(v)) = row.values.get(pos) {
            items.push((key::encode(&row.key), v.clone()));
        }
    }
    let segment =
        Segment::build(metric, dim, &params(def, cores()), items).map_err(vector_error)?;
    // Changes this transaction makes from here on (and the ones before, which the segment
    // already holds: harmless) are read back from the log.
    let built_seq = w.commit_seq().saturating_sub(1);
    let meta = Meta {
        generation: 1,
        built_seq,
        next_segment: 2,
        segments: vec![1],
    };
    w.aux_put(&segment_key(table.id, &def.name, 1), &segment.encode())?;
    w.aux_put(&meta_key(table.id, &def.name), &meta.encode())?;
    Ok(())
}

/// Compacts the index `def` of `table`: builds from a snapshot, then swaps the result in
/// with one short write transaction (given up if another compaction got there first).
/// Returns whether it swapped.
pub fn compact(db: &Database, table: &str, def: &HnswDef, how: Compaction) -> Result<bool> {
    let state = VectorState::of(db);
    let r = db.begin_read()?;
    let schema = r.table(table)?.clone();
    let view = state.view(db, &r, &schema, def)?;
    let old = match r.aux_get(&meta_key(schema.id, &def.name))? {
        Some(b) => Some(Meta::decode(&b)?),
        None => None,
    };
    drop(r);
    let metric = metric_of_code(def.metric)?;
    let dim = view.index.dim();
    let full = how == Compaction::Full
        || old
            .as_ref()
            .is_none_or(|m| m.segments.len() >= SEGMENTS_MAX)
        || view.index.dead_len() > view.index.len() / 4;
    let threads = if how == Compaction::Full { cores() } else { 1 };
    let items: Vec<(Vec<u8>, Vec<f32>)> = if full {
        view.index
            .live()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect()
    } else {
        view.index
            .buffered()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect()
    };
    // Keys of the older segments that have no live vector any more (deleted, or set to
    // NULL): on reload nothing else would say they are dead. (Keys updated since live
    // in the buffer, so in the new segment, which shadows the older copies.)
    let tombstones: Vec<Vec<u8>> = if full {
        Vec::new()
    } else {
        let mut seen = HashSet::new();
        view.index
            .segments()
            .iter()
            .flat_map(|s| s.keys())
            .filter(|k| !view.index.contains(k) && seen.insert(*k))
            .cloned()
            .collect()
    };
    let segment =
        Segment::build(metric, dim, &params(def, threads), items).map_err(vector_error)?;
    let encoded = segment.encode();

    let mut w = db.begin_write()?;
    let current = match w.aux_get(&meta_key(schema.id, &def.name))? {
        Some(b) => Some(Meta::decode(&b)?),
        None => None,
    };
    let still_declared = w
        .catalog()
        .table(table)
        .ok()
        .filter(|t| t.id == schema.id)
        .map(|t| defs(t))
        .transpose()?
        .is_some_and(|ds| ds.contains(def));
    if current != old || !still_declared {
        w.rollback()?;
        return Ok(false);
    }
    let (generation, next, mut segments) = match &current {
        Some(m) => (m.generation + 1, m.next_segment, m.segments.clone()),
        None => (1, 1, Vec::new()),
    };
    if full {
        for &id in &segments {
            w.aux_delete(&segment_key(schema.id, &def.name, id))?;
            w.aux_delete(&tomb_key(schema.id, &def.name, id))?;
        }
        segments.clear();
    }
    w.aux_put(&segment_key(schema.id, &def.name, next), &encoded)?;
    if !tombstones.is_empty() {
        w.aux_put(
            &tomb_key(schema.id, &def.name, next),
            &encode_keys(&tombstones),
        )?;
    }
    segments.push(next);
    let meta = Meta {
        generation,
        built_seq: view.seq,
        next_segment: next + 1,
        segments,
    };
    w.aux_put(&meta_key(schema.id, &def.name), &meta.encode())?;
    w.commit()?;
    {
        let mut cached = lock(&state.segments);
        cached.retain(|(t, i, _), _| !(*t == schema.id && *i == def.name));
        cached.insert((schema.id, def.name.clone(), next), Arc::new(segment));
    }
    // The next query loads the new generation (the cached view's seq may still match).
    lock(&state.views).remove(&(schema.id, def.name.clone()));
    Ok(true)
}

/// Forgets what this process loaded of an index (after DROP INDEX or DROP TABLE).
pub fn forget(db: &Database, table: TableId, index: &str) {
    let state = VectorState::of(db);
    lock(&state.views).remove(&(table, index.to_owned()));
    lock(&state.segments).retain(|(t, i, _), _| !(*t == table && i == index));
}

/// What EXPLAIN and benchmarks report about an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    pub segments: usize,
    pub segment_vectors: usize,
    pub buffered: usize,
    pub dead: usize,
    pub live: usize,
    pub memory_bytes: usize,
}

pub fn stats(view: &View) -> IndexStats {
    IndexStats {
        segments: view.index.segments().len(),
        segment_vectors: view.index.segments().iter().map(|s| s.len()).sum(),
        buffered: view.index.buffer_len(),
        dead: view.index.dead_len(),
        live: view.index.len(),
        memory_bytes: view
            .index
            .segments()
            .iter()
            .map(|s| s.memory_bytes())
            .sum::<usize>()
            + view.index.buffer_len() * (view.index.dim() as usize * 4 + 64),
    }
}

// ---------------------------------------------------------------------------------------
// Query execution
// ---------------------------------------------------------------------------------------

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new());
}

/// A vector search's rows: `(distance, key, row)` in ascending distance.
pub type Hits = Vec<(f32, Row)>;

/// Top-`k` over the index: asks the index for more candidates until `k` of them pass
/// `filter` (a selective filter), and falls back to an exact scan when the index would
/// have to return a large share of the table anyway. `fetch` reads a row by key.
#[allow(clippy::too_many_arguments)]
pub fn indexed_top_k(
    view: &View,
    query: &[f32],
    k: usize,
    ef: usize,
    fetch: &mut dyn FnMut(&[u8]) -> Result<Option<Row>>,
    filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
    has_filter: bool,
) -> Result<Option<Hits>> {
    let live = view.index.len();
    let mut want = k;
    loop {
        let found = SCRATCH.with(|s| {
            view.index
                .search(query, want, ef.max(want), &mut s.borrow_mut())
                .map_err(vector_error)
        })?;
        let exhausted = found.len() < want;
        let mut out = Vec::with_capacity(k);
        for (key, d) in &found {
            let Some(row) = fetch(key)? else { continue };
            if !has_filter || filter(&row)? {
                out.push((*d, row));
                if out.len() == k {
                    return Ok(Some(out));
                }
            }
        }
        if exhausted {
            return Ok(Some(out));
        }
        // Too few passed the filter: ask for four times as many, up to a quarter of the
        // table, past which an exact scan is cheaper and certain.
        want = want.saturating_mul(4);
        if want > live / 4 {
            return Ok(None);
        }
    }
}

/// Keeps the `k` nearest rows seen, for exact search.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
    seq: u64,
}

struct Entry {
    /// 0 a distance, 1 NaN, 2 NULL: PostgreSQL sorts NaN after every number and NULL
    /// after NaN (ascending, NULLS LAST).
    class: u8,
    d: f32,
    seq: u64,
    row: Row,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// By class, distance, then arrival (so ties keep the scan's key order).
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.class
            .cmp(&o.class)
            .then(self.d.total_cmp(&o.d))
            .then(self.seq.cmp(&o.seq))
    }
}

/// The class and distance of a row's sort key (`None`: a NULL vector).
fn rank(d: Option<f32>) -> (u8, f32) {
    match d {
        Some(d) if d.is_nan() => (1, 0.0),
        Some(d) => (0, d),
        None => (2, 0.0),
    }
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1024) + 1),
            seq: 0,
        }
    }

    /// Whether a row at distance `d` (`None`: a NULL vector) would be kept, so the caller
    /// decodes and filters it only then.
    pub fn admits(&self, d: Option<f32>) -> bool {
        let (class, d) = rank(d);
        self.k > 0
            && (self.heap.len() < self.k
                || self.heap.peek().is_some_and(|top| {
                    (class, d).partial_cmp(&(top.class, top.d)) == Some(std::cmp::Ordering::Less)
                }))
    }

    pub fn push(&mut self, d: Option<f32>, row: Row) {
        if !self.admits(d) {
            return;
        }
        let (class, d) = rank(d);
        self.seq += 1;
        self.heap.push(Entry {
            class,
            d,
            seq: self.seq,
            row,
        });
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    pub fn into_sorted(self) -> Hits {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| (e.d, e.row))
            .collect()
    }
}

/// The state of the HNSW index `name` as of now (loading it if this process has not yet).
pub fn index_stats(db: &Database, name: &str) -> Result<Option<IndexStats>> {
    let r = db.begin_read()?;
    let Some((table, def)) = find(r.catalog(), name)? else {
        return Ok(None);
    };
    let schema = r.table(&table)?.clone();
    let view = VectorState::of(db).view(db, &r, &schema, &def)?;
    Ok(Some(stats(&view)))
}

/// Turns background compaction on or off for this open database (on by default).
/// `REINDEX` compacts either way.
pub fn set_background_compaction(db: &Database, on: bool) {
    VectorState::of(db)
        .manual_only
        .store(!on, std::sync::atomic::Ordering::Relaxed);
}
