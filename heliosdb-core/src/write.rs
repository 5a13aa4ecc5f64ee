//! The write transaction: row and schema changes, each with its history and change record
//! written in the same redb transaction.
//!
//! Every public mutation either applies completely or returns an error having changed
//! nothing: constraints are checked before the first write. A storage error in the middle
//! of a mutation poisons the transaction, and `commit` then refuses.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use redb::{ReadableTable, Table};

use crate::CommitNotice;
use crate::columnar;
use crate::db::{
    Counters, EXPIRY, HISTORY, INDEX, Inner, LOG, META, META_CATALOG, META_COUNTERS,
    META_GC_HORIZON, ROWS, Shared, reload_settings,
};
use crate::error::{Error, Result};
use crate::fence::fence;
use crate::hlc::Hlc;
use crate::key;
use crate::log::{self, Change, ChangeRecord, CommitHeader, LogPosition, NodeId, SchemaChange};
use crate::read::ReadTxn;
use crate::row::{decode_row, encode_table_row, row_header};
use crate::schema::{
    Catalog, ColumnSpec, IndexSchema, IndexSpec, TableId, TableSchema, TableSpec, check_row,
};
use crate::value::Value;

type RawTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

pub(crate) struct Tables<'t> {
    meta: RawTable<'t>,
    rows: RawTable<'t>,
    history: RawTable<'t>,
    expiry: RawTable<'t>,
    index: RawTable<'t>,
    log: RawTable<'t>,
    /// While a savepoint is open: how to undo every write since the first one.
    undo: Option<Vec<Undo>>,
}

/// One of the redb tables a write transaction writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    Meta,
    Rows,
    History,
    Expiry,
    Index,
    Log,
}

/// The inverse of one write: put `old` back under `key` (or remove `key` if it was absent).
struct Undo {
    tree: Tree,
    key: Vec<u8>,
    old: Option<Vec<u8>>,
}

/// Every write goes through these, so that a savepoint can undo it.
impl<'t> Tables<'t> {
    fn raw(&mut self, tree: Tree) -> &mut RawTable<'t> {
        match tree {
            Tree::Meta => &mut self.meta,
            Tree::Rows => &mut self.rows,
            Tree::History => &mut self.history,
            Tree::Expiry => &mut self.expiry,
            Tree::Index => &mut self.index,
            Tree::Log => &mut self.log,
        }
    }

    fn remember(&mut self, tree: Tree, key: &[u8], old: &Option<Vec<u8>>) {
        if let Some(undo) = &mut self.undo {
            undo.push(Undo {
                tree,
                key: key.to_vec(),
                old: old.clone(),
            });
        }
    }

    /// Writes `value` under `key`; returns what was there.
    fn put(&mut self, tree: Tree, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self
            .raw(tree)
            .insert(key, value)?
            .map(|g| g.value().to_vec());
        self.remember(tree, key, &old);
        Ok(old)
    }

    /// Removes `key`; returns what was there.
    fn del(&mut self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.raw(tree).remove(key)?.map(|g| g.value().to_vec());
        if old.is_some() {
            self.remember(tree, key, &old);
        }
        Ok(old)
    }

    /// Removes every key that starts with `prefix`.
    fn del_prefix(&mut self, tree: Tree, prefix: &[u8]) -> Result<()> {
        let end = key::prefix_end(prefix);
        if self.undo.is_none() {
            self.raw(tree)
                .retain_in(prefix..end.as_slice(), |_, _| false)?;
            return Ok(());
        }
        let mut doomed = Vec::new();
        for entry in self.raw(tree).range(prefix..end.as_slice())? {
            doomed.push(entry?.0.value().to_vec());
        }
        for k in doomed {
            self.del(tree, &k)?;
        }
        Ok(())
    }

    /// Undoes writes, newest first, until `len` remain.
    fn undo_to(&mut self, len: usize) -> Result<()> {
        let Some(mut undo) = self.undo.take() else {
            return Ok(());
        };
        let result = (|| {
            while undo.len() > len {
                let Some(u) = undo.pop() else { break };
                match &u.old {
                    Some(old) => {
                        self.raw(u.tree).insert(u.key.as_slice(), old.as_slice())?;
                    }
                    None => {
                        self.raw(u.tree).remove(u.key.as_slice())?;
                    }
                }
            }
            Ok(())
        })();
        self.undo = Some(undo);
        result
    }
}

self_cell::self_cell!(
    /// A redb write transaction with its tables held open for the transaction's life
    /// (opening a redb table costs about as much as an insert).
    pub(crate) struct Cell {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: Tables,
    }
);

/// What a commit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's local sequence number; 0 when it changed nothing.
    pub commit_seq: u64,
    pub commit_ts: Hlc,
    pub node_id: NodeId,
    pub changes: u32,
}

/// An owned row: its primary key (the rowid for tables without one) and all its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: Vec<Value>,
    pub values: Vec<Value>,
}

/// Mutable state of one write transaction, apart from the redb tables.
struct State {
    commit_ts: Hlc,
    node_id: NodeId,
    counters: Counters,
    /// Log records written so far in this transaction (the commit header included).
    changes: u32,
    /// Next hidden rowid per table, once looked up.
    rowids: HashMap<TableId, i64>,
    last_rowid: Option<i64>,
    key_buf: Vec<u8>,
    row_buf: Vec<u8>,
    log_buf: Vec<u8>,
    /// Records not yet written to the log, and the index of the first of them.
    chunk: log::ChunkWriter,
    chunk_first: u32,
    /// The origin of the logical commit being written, when it is another node's commit
    /// being replicated (`None`: this node's own).
    replicated: Option<ReplicatedOrigin>,
    /// Logical commits of this transaction already finished (their counters applied).
    finished_commits: u32,
    /// Changes in those finished commits, commit headers not counted.
    finished_changes: u32,
    /// The latest timestamp of a replicated commit written here: persisted as the clock's
    /// floor, so that after a restart the clock starts above it too.
    replicated_ts_max: Hlc,
    /// The counters as the transaction began (for the collection ride-along).
    counters_at_begin: Counters,
    /// Columnar tables' delta row counts (see `columnar.rs`), once known.
    delta_rows: HashMap<TableId, u64>,
    /// Group headers and the last group decoded, per columnar table this transaction
    /// read through its key; dropped on any schema change or savepoint rollback.
    groups: std::cell::RefCell<ColumnarCache>,
}

#[derive(Default)]
struct ColumnarCache {
    headers: HashMap<TableId, Vec<columnar::GroupHeader>>,
    decoded: Option<columnar::DecodedGroup>,
}

/// A stored row found by its key: its bytes and, for a columnar table's grouped row,
/// which group header (by position in the cached list) and row it is.
struct Found {
    bytes: Vec<u8>,
    grouped: Option<(usize, usize)>,
}

/// Another node's commit as it is replicated here: its origin, its sequence at the origin,
/// and its timestamp there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicatedOrigin {
    pub origin: NodeId,
    pub origin_seq: u64,
    pub commit_ts: Hlc,
}

/// A point inside a write transaction to roll back to; see [`WriteTxn::savepoint`].
#[derive(Debug)]
pub struct Savepoint {
    /// Which transaction took it, and which of its savepoints it is.
    txn_id: u64,
    undo_len: usize,
    changes: u32,
    chunk_first: u32,
    chunk: log::ChunkMark,
    rowids: HashMap<TableId, i64>,
    last_rowid: Option<i64>,
    catalog: Arc<Catalog>,
    catalog_dirty: bool,
    settings_changed: bool,
}

/// Tells savepoints of different transactions apart.
static NEXT_TXN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The one write transaction. Dropping it without `commit` rolls it back.
pub struct WriteTxn {
    inner: Arc<Inner>,
    cell: Cell,
    catalog: Arc<Catalog>,
    catalog_dirty: bool,
    pub(crate) settings_changed: bool,
    poisoned: bool,
    state: State,
    /// Identifies this transaction to its savepoints.
    txn_id: u64,
    /// Savepoints taken and not yet released or rolled back past.
    open_savepoints: usize,
}

/// A local record's key in the meta table; bounded so a caller cannot make one huge.
pub(crate) fn aux_key(key: &[u8]) -> Result<Vec<u8>> {
    if key.len() > AUX_KEY_BYTES_MAX {
        return Err(Error::Storage(format!(
            "a local record key is {} bytes; at most {AUX_KEY_BYTES_MAX} are allowed",
            key.len()
        )));
    }
    let mut k = crate::db::META_AUX_PREFIX.to_vec();
    k.extend_from_slice(key);
    Ok(k)
}

/// The longest key of a local record.
pub const AUX_KEY_BYTES_MAX: usize = 64 * 1024;

fn table_prefix(id: TableId) -> [u8; 4] {
    id.to_be_bytes()
}

fn full_key(prefix: [u8; 4], pk: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&prefix);
    out.extend_from_slice(pk);
}

fn index_key(index: &IndexSchema, values: &[Value], pk: &[u8]) -> Vec<u8> {
    let mut k = index.id.to_be_bytes().to_vec();
    for &c in &index.columns {
        key::encode_into(&values[c], &mut k);
    }
    k.extend_from_slice(pk);
    k
}

fn index_has_null(index: &IndexSchema, values: &[Value]) -> bool {
    index.columns.iter().any(|&c| values[c].is_null())
}

/// Encodes the key of a table's row from its values.
fn encode_pk(table: &TableSchema, values: &[Value]) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    for &c in &table.primary_key {
        key::encode_into(&values[c], &mut k);
    }
    k
}

/// The name of the column at `at`; a record naming a column that is not there is corrupt.
fn column_name(columns: &[crate::ColumnSchema], at: usize) -> Result<String> {
    columns.get(at).map(|c| c.name.clone()).ok_or_else(|| {
        Error::Corrupt(format!(
            "a change record names column #{at}, which does not exist"
        ))
    })
}

/// The rowid in `pk` for tables without a declared key, which rows store in their header.
fn rowid_of(table: &TableSchema, pk: &[u8]) -> Result<Option<i64>> {
    if !table.has_rowid() {
        return Ok(None);
    }
    match key::decode(pk)?.as_slice() {
        [Value::Integer(rowid)] => Ok(Some(*rowid)),
        [other] => Err(Error::TypeMismatch {
            table: table.name.clone(),
            column: "rowid".into(),
            expected: crate::DataType::Integer,
            found: other.type_name(),
        }),
        values => Err(Error::KeyArity {
            table: table.name.clone(),
            expected: 1,
            found: values.len(),
        }),
    }
}

fn check_key_arity(table: &TableSchema, key: &[Value]) -> Result<()> {
    if key.len() != table.key_len() {
        return Err(Error::KeyArity {
            table: table.name.clone(),
            expected: table.key_len(),
            found: key.len(),
        });
    }
    Ok(())
}

fn show_key(pk: &[u8]) -> String {
    match key::decode(pk) {
        Ok(values) => {
            let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
            format!("({})", shown.join(", "))
        }
        Err(_) => "(undecodable)".into(),
    }
}

impl State {
    fn next_position(&mut self) -> Result<LogPosition> {
        let index = self.changes;
        self.changes = index.checked_add(1).ok_or_else(|| {
            Error::Storage("over 4 billion changes in one transaction; commit in parts".into())
        })?;
        Ok(LogPosition {
            commit_seq: self.counters.commit_seq + 1,
            index,
        })
    }
}

/// Adds the record in `s.log_buf` to the log (after the commit header, for the first).
fn append_log(t: &mut Tables<'_>, s: &mut State) -> Result<()> {
    if s.changes == 0 {
        let header = match s.replicated {
            Some(r) => CommitHeader {
                commit_ts: r.commit_ts,
                origin: r.origin,
                origin_seq: r.origin_seq,
                local_ts: s.commit_ts,
            },
            None => CommitHeader {
                commit_ts: s.commit_ts,
                origin: s.node_id,
                origin_seq: s.counters.origin_seq + 1,
                local_ts: s.commit_ts,
            },
        };
        let mut bytes = Vec::with_capacity(42);
        log::encode_commit_header(&header, &mut bytes);
        s.next_position()?;
        s.chunk.push(&bytes);
    }
    s.next_position()?;
    s.chunk.push(&s.log_buf);
    if s.chunk.is_full() {
        flush_log(t, s)?;
    }
    Ok(())
}

/// Writes the pending records as one chunk, keyed by the position of the first.
fn flush_log(t: &mut Tables<'_>, s: &mut State) -> Result<()> {
    let first = LogPosition {
        commit_seq: s.counters.commit_seq + 1,
        index: s.chunk_first,
    };
    let count = s.chunk.records();
    if let Some(chunk) = s.chunk.finish() {
        t.put(Tree::Log, &first.to_key()[..], chunk)?;
    }
    s.chunk.clear();
    s.chunk_first += count;
    Ok(())
}

/// Moves a replaced or deleted version into history, unless this transaction wrote it.
fn retire_version(
    t: &mut Tables<'_>,
    s: &State,
    prefix: [u8; 4],
    pk: &[u8],
    old: &[u8],
) -> Result<()> {
    let (valid_from, _) = row_header(old)?;
    if valid_from == s.commit_ts {
        return Ok(());
    }
    let valid_to = s.commit_ts.0.to_be_bytes();
    let mut hk = Vec::with_capacity(4 + pk.len() + 8);
    hk.extend_from_slice(&prefix);
    hk.extend_from_slice(pk);
    hk.extend_from_slice(&valid_to);
    t.put(Tree::History, &hk, old)?;
    let mut ek = Vec::with_capacity(hk.len());
    ek.extend_from_slice(&valid_to);
    ek.extend_from_slice(&prefix);
    ek.extend_from_slice(pk);
    t.put(Tree::Expiry, &ek, &[])?;
    Ok(())
}

/// Fails if a unique index already holds the values under a key other than `own_pk`.
fn check_unique(
    t: &Tables<'_>,
    table: &TableSchema,
    values: &[Value],
    own_pk: &[u8],
    before: Option<&[Value]>,
) -> Result<()> {
    for index in table.indexes.iter().filter(|i| i.unique) {
        if index_has_null(index, values) {
            continue;
        }
        if let Some(old) = before
            && index.columns.iter().all(|&c| values[c].same_as(&old[c]))
        {
            continue;
        }
        let prefix = index_key(index, values, &[]);
        let end = key::prefix_end(&prefix);
        for entry in t.index.range(prefix.as_slice()..end.as_slice())? {
            let (k, _) = entry?;
            if &k.value()[prefix.len()..] != own_pk {
                let shown: Vec<String> = index
                    .columns
                    .iter()
                    .map(|&c| values[c].to_string())
                    .collect();
                return Err(Error::UniqueViolation {
                    table: table.name.clone(),
                    index: index.name.clone(),
                    key: format!("({})", shown.join(", ")),
                });
            }
        }
    }
    Ok(())
}

fn insert_index_entries(
    t: &mut Tables<'_>,
    table: &TableSchema,
    values: &[Value],
    pk: &[u8],
) -> Result<()> {
    for index in &table.indexes {
        t.put(Tree::Index, &index_key(index, values, pk), &[])?;
    }
    Ok(())
}

fn remove_index_entries(
    t: &mut Tables<'_>,
    table: &TableSchema,
    values: &[Value],
    pk: &[u8],
) -> Result<()> {
    for index in &table.indexes {
        t.del(Tree::Index, &index_key(index, values, pk))?;
    }
    Ok(())
}

/// Writes a new row. The row goes in first, in one B-tree descent that also tells whether
/// the key was taken; a taken key or a unique-index clash puts everything back as it was.
fn write_new_row(
    t: &mut Tables<'_>,
    s: &mut State,
    table: &TableSchema,
    pk: &[u8],
    values: &[Value],
) -> Result<()> {
    encode_table_row(
        table,
        s.commit_ts,
        rowid_of(table, pk)?,
        values,
        &mut s.row_buf,
    );
    full_key(table_prefix(table.id), pk, &mut s.key_buf);
    let taken = t.put(Tree::Rows, &s.key_buf, &s.row_buf)?;
    if let Some(old) = taken {
        t.put(Tree::Rows, &s.key_buf, &old)?;
        return Err(Error::DuplicateKey {
            table: table.name.clone(),
            key: show_key(pk),
        });
    }
    if let Err(e) = check_unique(t, table, values, pk, None) {
        t.del(Tree::Rows, &s.key_buf)?;
        return Err(e);
    }
    insert_index_entries(t, table, values, pk)?;
    if table.is_columnar() {
        delta_grew(t, s, table)?;
    }
    // The key holds the primary-key columns; the record lists the others.
    let cols = table
        .columns
        .iter()
        .zip(values)
        .enumerate()
        .filter(|(i, _)| !table.primary_key.contains(i))
        .map(|(_, (c, v))| (c.id, v));
    log::encode_row_change(&table.name, true, pk, cols, &mut s.log_buf);
    append_log(t, s)
}

/// Removes an existing row, found by `find_row`.
fn remove_row(
    t: &mut Tables<'_>,
    s: &mut State,
    table: &TableSchema,
    pk: &[u8],
    found: &Found,
) -> Result<()> {
    let prefix = table_prefix(table.id);
    let old = found.bytes.as_slice();
    unstore_row(t, s, table, pk, found)?;
    if !table.indexes.is_empty() {
        let old_values = decode_row(table, old)?;
        remove_index_entries(t, table, &old_values, pk)?;
    }
    retire_version(t, s, prefix, pk, old)?;
    log::encode_delete(&table.name, pk, &mut s.log_buf);
    append_log(t, s)
}

fn get_raw(t: &Tables<'_>, prefix: [u8; 4], pk: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut k = Vec::with_capacity(4 + pk.len());
    full_key(prefix, pk, &mut k);
    Ok(t.rows.get(k.as_slice())?.map(|g| g.value().to_vec()))
}

/// The row stored under `pk`: in the rows tree, or in a columnar table's row groups.
fn find_row(
    t: &Tables<'_>,
    cache: &mut ColumnarCache,
    table: &TableSchema,
    pk: &[u8],
) -> Result<Option<Found>> {
    if let Some(bytes) = get_raw(t, table_prefix(table.id), pk)? {
        return Ok(Some(Found {
            bytes,
            grouped: None,
        }));
    }
    if !table.is_columnar() {
        return Ok(None);
    }
    let rowid = columnar::rowid_of_key(pk)?;
    if let std::collections::hash_map::Entry::Vacant(e) = cache.headers.entry(table.id) {
        e.insert(columnar::headers(&t.rows, table.id)?);
    }
    let headers = cache.headers.get(&table.id).map_or(&[][..], Vec::as_slice);
    for (at, h) in headers.iter().enumerate() {
        if rowid < h.min_rowid || rowid > h.max_rowid {
            continue;
        }
        let cached = cache
            .decoded
            .as_ref()
            .is_some_and(|d| d.table == table.id && d.group == h.group);
        if !cached {
            cache.decoded = Some(columnar::DecodedGroup::read(&t.rows, table, h)?);
        }
        let Some(decoded) = cache.decoded.as_ref() else {
            continue;
        };
        if let Ok(i) = decoded.rowids.binary_search(&rowid)
            && !h.is_deleted(i)
        {
            return Ok(Some(Found {
                bytes: decoded.row_bytes(i)?,
                grouped: Some((at, i)),
            }));
        }
    }
    Ok(None)
}

/// Takes a found row out of storage (no history, no log): from the rows tree, or by
/// marking it deleted in its row group (removing the group with its last row).
fn unstore_row(
    t: &mut Tables<'_>,
    s: &mut State,
    table: &TableSchema,
    pk: &[u8],
    found: &Found,
) -> Result<()> {
    let Some((at, i)) = found.grouped else {
        full_key(table_prefix(table.id), pk, &mut s.key_buf);
        t.del(Tree::Rows, &s.key_buf)?;
        if table.is_columnar() {
            let n = s.delta_rows.entry(table.id).or_insert(1);
            *n = n.saturating_sub(1);
        }
        return Ok(());
    };
    let headers = s
        .groups
        .get_mut()
        .headers
        .get_mut(&table.id)
        .ok_or_else(|| Error::Corrupt("row group cache lost".into()))?;
    let header = headers
        .get_mut(at)
        .ok_or_else(|| Error::Corrupt("row group cache lost".into()))?;
    header.set_deleted(i);
    if header.live() > 0 {
        let bytes = header.encode();
        t.put(
            Tree::Rows,
            &columnar::header_key(table.id, header.group),
            &bytes,
        )?;
        return Ok(());
    }
    let header = headers.remove(at);
    for key in columnar::group_keys(table.id, &header)? {
        t.del(Tree::Rows, &key)?;
    }
    s.groups.get_mut().decoded = None;
    Ok(())
}

/// The number of delta rows of a columnar table, counted once per transaction unless an
/// earlier commit left the count.
fn delta_rows(t: &Tables<'_>, s: &mut State, table: &TableSchema) -> Result<u64> {
    if let Some(&n) = s.delta_rows.get(&table.id) {
        return Ok(n);
    }
    let start = table_prefix(table.id);
    let end = columnar::delta_end(table.id);
    let mut n = 0u64;
    for entry in t.rows.range(&start[..]..end.as_slice())? {
        entry?;
        n += 1;
    }
    s.delta_rows.insert(table.id, n);
    Ok(n)
}

/// Counts a row added to a columnar table's delta and packs full row groups once the
/// delta holds [`columnar::GROUP_ROWS`] rows.
fn delta_grew(t: &mut Tables<'_>, s: &mut State, table: &TableSchema) -> Result<()> {
    let n = delta_rows(t, s, table)?.saturating_add(1);
    s.delta_rows.insert(table.id, n);
    if n >= columnar::GROUP_ROWS as u64 {
        pack_delta(t, s, table, false)?;
    }
    Ok(())
}

/// Packs the delta of a columnar table into row groups of [`columnar::GROUP_ROWS`] rows,
/// in rowid order; with `all`, the rest too (a smaller last group). A physical change:
/// rows keep their rowids, values and `valid_from`, so nothing is logged or versioned.
fn pack_delta(t: &mut Tables<'_>, s: &mut State, table: &TableSchema, all: bool) -> Result<u32> {
    let start = table_prefix(table.id);
    let end = columnar::delta_end(table.id);
    let mut delta: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut groups = 0;
    let mut next = columnar::next_group(&t.rows, table.id)?;
    let mut from: Vec<u8> = start.to_vec();
    loop {
        delta.clear();
        keys.clear();
        for entry in t.rows.range(from.as_slice()..end.as_slice())? {
            let (k, v) = entry?;
            let k = k.value();
            delta.push((columnar::rowid_of_key(&k[4..])?, v.value().to_vec()));
            keys.push(k.to_vec());
            if delta.len() == columnar::GROUP_ROWS {
                break;
            }
        }
        if delta.is_empty() || (delta.len() < columnar::GROUP_ROWS && !all) {
            break;
        }
        for (k, v) in columnar::build_group(table, next, &delta)? {
            t.put(Tree::Rows, &k, &v)?;
        }
        for k in &keys {
            t.del(Tree::Rows, k)?;
        }
        if let Some(last) = keys.last() {
            from = key::prefix_end(last);
        }
        next = next
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt("row group numbers exhausted".into()))?;
        groups += 1;
    }
    *s.groups.get_mut() = ColumnarCache::default();
    // What is left is one partial group at most.
    s.delta_rows
        .insert(table.id, delta.len() as u64 % columnar::GROUP_ROWS as u64);
    if all {
        s.delta_rows.insert(table.id, 0);
    }
    Ok(groups)
}

impl WriteTxn {
    pub(crate) fn begin(inner: Arc<Inner>) -> Result<WriteTxn> {
        let mut txn = inner.redb.begin_write()?;
        txn.set_two_phase_commit(inner.two_phase);
        let durability = if inner.durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let catalog = inner.shared().catalog.clone();
        let cell = Cell::try_new(txn, |txn| -> Result<Tables<'_>> {
            Ok(Tables {
                meta: txn.open_table(META)?,
                rows: txn.open_table(ROWS)?,
                history: txn.open_table(HISTORY)?,
                expiry: txn.open_table(EXPIRY)?,
                index: txn.open_table(INDEX)?,
                log: txn.open_table(LOG)?,
                undo: None,
            })
        })?;
        let counters = cell.with_dependent(|_, t| -> Result<Counters> {
            let g = t.meta.get(META_COUNTERS)?;
            let g = g.ok_or_else(|| Error::Corrupt("meta record counters is missing".into()))?;
            Counters::decode(g.value())
        })?;
        inner.clock.observe(counters.last_ts);
        let state = State {
            commit_ts: inner.clock.now(),
            node_id: inner.node_id,
            counters,
            changes: 0,
            rowids: HashMap::new(),
            last_rowid: None,
            key_buf: Vec::with_capacity(64),
            row_buf: Vec::with_capacity(256),
            log_buf: Vec::with_capacity(256),
            chunk: log::ChunkWriter::default(),
            chunk_first: 0,
            replicated: None,
            finished_commits: 0,
            finished_changes: 0,
            replicated_ts_max: Hlc::ZERO,
            counters_at_begin: counters,
            delta_rows: inner
                .columnar_delta
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            groups: Default::default(),
        };
        Ok(WriteTxn {
            inner,
            cell,
            catalog,
            catalog_dirty: false,
            settings_changed: false,
            poisoned: false,
            state,
            txn_id: NEXT_TXN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            open_savepoints: 0,
        })
    }

    /// The HLC timestamp this transaction's changes carry.
    pub fn commit_ts(&self) -> Hlc {
        self.state.commit_ts
    }

    /// The catalog as this transaction sees it (including its own schema changes).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The rowid given to the last row inserted into a table without a primary key.
    pub fn last_insert_rowid(&self) -> Option<i64> {
        self.state.last_rowid
    }

    /// Runs a mutation; a storage error inside it poisons the transaction.
    fn mutate<R>(&mut self, f: impl FnOnce(&mut Tables<'_>, &mut State) -> Result<R>) -> Result<R> {
        if self.poisoned {
            return Err(Error::Storage(
                "an earlier storage error aborted this transaction; roll it back".into(),
            ));
        }
        let state = &mut self.state;
        let cell = &mut self.cell;
        let result = fence(|| cell.with_dependent_mut(|_, t| f(t, state)));
        if let Err(Error::Storage(_) | Error::Io(_) | Error::Corrupt(_)) = &result {
            self.poisoned = true;
        }
        result
    }

    fn read<R>(&self, f: impl FnOnce(&Tables<'_>) -> Result<R>) -> Result<R> {
        fence(|| self.cell.with_dependent(|_, t| f(t)))
    }

    fn table(&self, name: &str) -> Result<Arc<TableSchema>> {
        self.catalog.table(name).cloned()
    }

    /// Stores `value` under `key` in the local records of the layers above core (sync
    /// keeps its frontier and row metadata here). Such a record is written and rolled back
    /// with the transaction like any other, but it is not logged and never replicates: it
    /// describes this node. Its owner versions its bytes.
    pub fn aux_put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let key = aux_key(key)?;
        self.put_meta(&key, value)
    }

    /// Removes the local record `key` (nothing if there is none).
    pub fn aux_delete(&mut self, key: &[u8]) -> Result<()> {
        let key = aux_key(key)?;
        self.mutate(|t, _| {
            t.del(Tree::Meta, &key)?;
            Ok(())
        })
    }

    /// The local record `key`, as this transaction sees it.
    pub fn aux_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = aux_key(key)?;
        self.read(|t| Ok(t.meta.get(key.as_slice())?.map(|g| g.value().to_vec())))
    }

    /// The local records whose keys start with `prefix`, in key order, as this
    /// transaction sees them (keys as given to `aux_put`).
    pub fn aux_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let start = aux_key(prefix)?;
        let end = key::prefix_end(&start);
        let skip = crate::db::META_AUX_PREFIX.len();
        self.read(|t| {
            let mut out = Vec::new();
            for entry in t.meta.range(start.as_slice()..end.as_slice())? {
                let (k, v) = entry?;
                let k = k.value().get(skip..).unwrap_or_default().to_vec();
                out.push((k, v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// At most `limit` local records whose keys start with `prefix` and come after
    /// `after` (all of them when `None`), in key order: for passes over many records in
    /// bounded steps.
    pub fn aux_scan_after(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound;
        let start = aux_key(prefix)?;
        let end = key::prefix_end(&start);
        let from = match after {
            Some(after) => Bound::Excluded(aux_key(after)?),
            None => Bound::Included(start),
        };
        let skip = crate::db::META_AUX_PREFIX.len();
        self.read(|t| {
            let mut out = Vec::new();
            let bounds = (
                from.as_ref().map(Vec::as_slice),
                Bound::Excluded(end.as_slice()),
            );
            for entry in t.meta.range::<&[u8]>(bounds)?.take(limit) {
                let (k, v) = entry?;
                let k = k.value().get(skip..).unwrap_or_default().to_vec();
                out.push((k, v.value().to_vec()));
            }
            Ok(out)
        })
    }

    pub(crate) fn put_meta(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.mutate(|t, _| {
            t.put(Tree::Meta, key, value)?;
            Ok(())
        })
    }

    // ----------------------------------------------------------------------------------
    // Savepoints
    // ----------------------------------------------------------------------------------

    /// Marks this point of the transaction. [`WriteTxn::rollback_to`] undoes everything
    /// after it — rows, indexes, history, change records and schema changes — and leaves
    /// the transaction usable: a failed statement inside `BEGIN … COMMIT` changes nothing.
    ///
    /// While a savepoint is open, every write also records how to undo itself (the previous
    /// bytes of what it overwrote), so a statement that rewrites many rows holds their old
    /// versions in memory until [`WriteTxn::release`].
    pub fn savepoint(&mut self) -> Savepoint {
        let undo_len = self
            .cell
            .with_dependent_mut(|_, t| t.undo.get_or_insert_with(Vec::new).len());
        self.open_savepoints += 1;
        Savepoint {
            txn_id: self.txn_id,
            undo_len,
            changes: self.state.changes,
            chunk_first: self.state.chunk_first,
            chunk: self.state.chunk.mark(),
            rowids: self.state.rowids.clone(),
            last_rowid: self.state.last_rowid,
            catalog: self.catalog.clone(),
            catalog_dirty: self.catalog_dirty,
            settings_changed: self.settings_changed,
        }
    }

    /// Undoes everything written since `savepoint` was taken. The savepoint stays valid
    /// and can be rolled back to again.
    pub fn rollback_to(&mut self, savepoint: &Savepoint) -> Result<()> {
        if savepoint.txn_id != self.txn_id {
            return Err(Error::InvalidSavepoint("it belongs to another transaction"));
        }
        let sp = savepoint;
        let commit_seq = self.state.counters.commit_seq + 1;
        self.mutate(|t, s| {
            if t.undo.as_ref().is_none_or(|u| u.len() < sp.undo_len) {
                return Err(Error::InvalidSavepoint("it was released"));
            }
            // Records flushed since the savepoint come back into the chunk buffer from
            // the chunk that began where the buffer then began (decompressed: the buffer
            // holds records uncompressed).
            let flushed = if s.chunk_first != sp.chunk_first {
                let at = LogPosition {
                    commit_seq,
                    index: sp.chunk_first,
                };
                match t.log.get(&at.to_key()[..])? {
                    Some(g) => Some(log::Chunk::decode(g.value())?.into_owned()),
                    None => None,
                }
            } else {
                None
            };
            t.undo_to(sp.undo_len)?;
            s.chunk.restore(&sp.chunk, flushed.as_ref());
            s.chunk_first = sp.chunk_first;
            s.changes = sp.changes;
            s.rowids = sp.rowids.clone();
            s.last_rowid = sp.last_rowid;
            s.groups = Default::default();
            s.delta_rows.clear();
            Ok(())
        })?;
        self.catalog = sp.catalog.clone();
        self.catalog_dirty = sp.catalog_dirty;
        self.settings_changed = sp.settings_changed;
        Ok(())
    }

    /// Keeps everything written since `savepoint`; once no savepoint is open, writes stop
    /// recording how to undo themselves.
    pub fn release(&mut self, savepoint: Savepoint) {
        if savepoint.txn_id != self.txn_id {
            return;
        }
        self.open_savepoints = self.open_savepoints.saturating_sub(1);
        if self.open_savepoints == 0 {
            self.cell.with_dependent_mut(|_, t| t.undo = None);
        }
    }

    // ----------------------------------------------------------------------------------
    // Rows
    // ----------------------------------------------------------------------------------

    /// Inserts a new row. Fails with [`Error::DuplicateKey`] if the key exists.
    pub fn insert(&mut self, table: &str, values: &[Value]) -> Result<()> {
        let table = self.table(table)?;
        check_row(&table, values)?;
        let pk = self.new_key(&table, values)?;
        self.insert_at(table, pk, values)
    }

    fn insert_at(&mut self, table: Arc<TableSchema>, pk: Vec<u8>, values: &[Value]) -> Result<()> {
        let table = self.train_text_if_due(table)?;
        self.mutate(|t, s| write_new_row(t, s, &table, &pk, values))?;
        if let Some(rowid) = rowid_of(&table, &pk)? {
            self.state.last_rowid = Some(rowid);
        }
        Ok(())
    }

    /// Inserts the row, or replaces the row with the same primary key.
    pub fn put(&mut self, table: &str, values: &[Value]) -> Result<()> {
        let schema = self.table(table)?;
        if schema.has_rowid() {
            return self.insert(table, values);
        }
        check_row(&schema, values)?;
        let key: Vec<Value> = schema
            .primary_key
            .iter()
            .map(|&c| values[c].clone())
            .collect();
        if self.update(table, &key, values)? {
            return Ok(());
        }
        self.insert(table, values)
    }

    /// Replaces the row with key `key` by `values` (which may carry a new key).
    /// Returns whether the row existed.
    pub fn update(&mut self, table: &str, key: &[Value], values: &[Value]) -> Result<bool> {
        let table = self.train_text_if_due(self.table(table)?)?;
        check_key_arity(&table, key)?;
        check_row(&table, values)?;
        let old_pk = key::encode(key);
        let new_pk = if table.has_rowid() {
            old_pk.clone()
        } else {
            encode_pk(&table, values)
        };
        self.mutate(|t, s| {
            let prefix = table_prefix(table.id);
            let Some(found) = find_row(t, s.groups.get_mut(), &table, &old_pk)? else {
                return Ok(false);
            };
            let old = found.bytes.clone();
            let old_values = decode_row(&table, &old)?;
            if new_pk != old_pk {
                if get_raw(t, prefix, &new_pk)?.is_some() {
                    return Err(Error::DuplicateKey {
                        table: table.name.clone(),
                        key: show_key(&new_pk),
                    });
                }
                check_unique(t, &table, values, &old_pk, Some(&old_values))?;
                remove_row(t, s, &table, &old_pk, &found)?;
                write_new_row(t, s, &table, &new_pk, values)?;
                return Ok(true);
            }
            let changed: Vec<usize> = (0..values.len())
                .filter(|&i| !values[i].same_as(&old_values[i]))
                .collect();
            if changed.is_empty() {
                return Ok(true);
            }
            check_unique(t, &table, values, &old_pk, Some(&old_values))?;
            retire_version(t, s, prefix, &old_pk, &old)?;
            if found.grouped.is_some() {
                // The new version goes to the delta under the same rowid.
                unstore_row(t, s, &table, &old_pk, &found)?;
            }
            encode_table_row(
                &table,
                s.commit_ts,
                rowid_of(&table, &old_pk)?,
                values,
                &mut s.row_buf,
            );
            full_key(prefix, &old_pk, &mut s.key_buf);
            t.put(Tree::Rows, &s.key_buf, &s.row_buf)?;
            if found.grouped.is_some() {
                delta_grew(t, s, &table)?;
            }
            for index in &table.indexes {
                if index.columns.iter().any(|c| changed.contains(c)) {
                    t.del(Tree::Index, &index_key(index, &old_values, &old_pk))?;
                    t.put(Tree::Index, &index_key(index, values, &old_pk), &[])?;
                }
            }
            let cols = changed.iter().map(|&i| (table.columns[i].id, &values[i]));
            log::encode_row_change(&table.name, false, &old_pk, cols, &mut s.log_buf);
            append_log(t, s)?;
            Ok(true)
        })
    }

    /// Deletes the row with key `key`. Returns whether it existed.
    pub fn delete(&mut self, table: &str, key: &[Value]) -> Result<bool> {
        let table = self.table(table)?;
        check_key_arity(&table, key)?;
        let pk = key::encode(key);
        self.mutate(|t, s| {
            let Some(found) = find_row(t, s.groups.get_mut(), &table, &pk)? else {
                return Ok(false);
            };
            remove_row(t, s, &table, &pk, &found)?;
            Ok(true)
        })
    }

    /// Deletes the row with key `key` if it exists, and logs a delete of the key either
    /// way, so that replicas learn the key is gone even where this node never stored the
    /// row (sync uses it to settle a unique-index clash in favour of an existing row).
    /// Returns whether the row existed.
    pub fn tombstone(&mut self, table: &str, key: &[Value]) -> Result<bool> {
        let table = self.table(table)?;
        check_key_arity(&table, key)?;
        let pk = key::encode(key);
        self.mutate(|t, s| {
            if let Some(found) = find_row(t, s.groups.get_mut(), &table, &pk)? {
                remove_row(t, s, &table, &pk, &found)?;
                return Ok(true);
            }
            log::encode_delete(&table.name, &pk, &mut s.log_buf);
            append_log(t, s)?;
            Ok(false)
        })
    }

    /// Packs every delta row of a columnar table into row groups now, the last one
    /// possibly smaller than [`columnar::GROUP_ROWS`] (writes pack full groups on their
    /// own). Returns the number of groups written; a row table has none.
    pub fn pack_columnar(&mut self, table: &str) -> Result<u32> {
        let table = self.table(table)?;
        if !table.is_columnar() {
            return Ok(0);
        }
        self.mutate(|t, s| pack_delta(t, s, &table, true))
    }

    /// Reads a row as this transaction sees it.
    pub fn get(&self, table: &str, key: &[Value]) -> Result<Option<Vec<Value>>> {
        let table = self.table(table)?;
        check_key_arity(&table, key)?;
        let pk = key::encode(key);
        let mut cache = self.state.groups.borrow_mut();
        self.read(|t| match find_row(t, &mut cache, &table, &pk)? {
            Some(found) => Ok(Some(decode_row(&table, &found.bytes)?)),
            None => Ok(None),
        })
    }

    /// Rows in key order within `range` (bounds are key prefixes), as this transaction sees
    /// them. Reads in batches, so a long scan does not hold everything in memory.
    pub fn scan<'a>(
        &'a self,
        table: &str,
        range: impl std::ops::RangeBounds<Vec<Value>>,
    ) -> Result<WriteScan<'a>> {
        let table = self.table(table)?;
        let (start, end) = crate::read::key_bounds(table_prefix(table.id), range);
        let groups = if table.is_columnar() {
            self.read(|t| columnar::headers(&t.rows, table.id))?.into()
        } else {
            std::collections::VecDeque::new()
        };
        Ok(WriteScan {
            txn: self,
            table,
            groups,
            next: start,
            end,
            batch: Vec::new(),
            done: false,
        })
    }

    /// Rows whose index key lies in `range` (bounds are prefixes of the indexed columns),
    /// in index order, as this transaction sees them.
    pub fn index_scan(
        &self,
        table: &str,
        index: &str,
        range: impl std::ops::RangeBounds<Vec<Value>>,
    ) -> Result<Vec<Row>> {
        let table = self.table(table)?;
        let index = table
            .index(index)
            .ok_or_else(|| Error::IndexNotFound(index.into()))?;
        let (start, end) = crate::read::key_bounds(index.id.to_be_bytes(), range);
        self.read(|t| {
            let mut rows = Vec::new();
            let mut cache = self.state.groups.borrow_mut();
            let bounds = (
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            for entry in t.index.range::<&[u8]>(bounds)? {
                let (k, _) = entry?;
                let pk = crate::read::index_entry_pk(k.value(), index)?;
                let found = find_row(t, &mut cache, &table, pk)?.ok_or_else(|| {
                    Error::Corrupt(format!("index {} points at a missing row", index.name))
                })?;
                rows.push(Row {
                    key: key::decode(pk)?,
                    values: decode_row(&table, &found.bytes)?,
                });
            }
            Ok(rows)
        })
    }

    /// The key for a new row: its primary key, or the next rowid.
    fn new_key(&mut self, table: &TableSchema, values: &[Value]) -> Result<Vec<u8>> {
        if !table.has_rowid() {
            return Ok(encode_pk(table, values));
        }
        let next = match self.state.rowids.get(&table.id) {
            Some(&n) => n,
            None => self.read(|t| {
                let prefix = table_prefix(table.id);
                let end = columnar::delta_end(table.id);
                let last = t
                    .rows
                    .range(&prefix[..]..end.as_slice())?
                    .next_back()
                    .transpose()?;
                let mut last = match last {
                    Some((k, _)) => Some(columnar::rowid_of_key(&k.value()[4..])?),
                    None => None,
                };
                if table.is_columnar() {
                    last = last.max(columnar::max_grouped_rowid(&t.rows, table.id)?);
                }
                Ok(match last {
                    Some(i) => i.checked_add(1).ok_or_else(|| {
                        Error::Storage(format!("table {} ran out of rowids", table.name))
                    })?,
                    None => 1,
                })
            })?,
        };
        self.state.rowids.insert(table.id, next.saturating_add(1));
        Ok(key::encode(&[Value::Integer(next)]))
    }

    // ----------------------------------------------------------------------------------
    // Schema
    // ----------------------------------------------------------------------------------

    fn log_schema(&mut self, table: &str, change: SchemaChange) -> Result<()> {
        self.catalog_dirty = true;
        self.state.groups = Default::default();
        self.mutate(|t, s| {
            log::encode_schema_change(table, &change, &mut s.log_buf);
            append_log(t, s)
        })
    }

    /// Creates a table (with its storage settings, logged as the table's extension).
    pub fn create_table(&mut self, spec: &TableSpec) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        let table = catalog.create_table(spec)?;
        if let Some(storage) = &spec.storage {
            // Checked before anything is logged, so a refused layout changes nothing.
            catalog.set_extension(
                &spec.name,
                crate::storage::STORAGE_EXTENSION,
                Some(storage.encode()),
            )?;
        }
        self.catalog = Arc::new(catalog);
        let mut created = (*table).clone();
        created.extensions.clear();
        self.log_schema(&spec.name, SchemaChange::CreateTable(created))?;
        if let Some(storage) = &spec.storage {
            self.log_schema(
                &spec.name,
                SchemaChange::SetExtension {
                    key: crate::storage::STORAGE_EXTENSION.into(),
                    value: Some(storage.encode()),
                },
            )?;
        }
        Ok(())
    }

    /// Drops a table with its rows, history and indexes.
    pub fn drop_table(&mut self, name: &str) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        let table = catalog.drop_table(name)?;
        self.catalog = Arc::new(catalog);
        self.mutate(|t, _| {
            let prefix = table_prefix(table.id);
            t.del_prefix(Tree::Rows, &prefix)?;
            // History entries go now; their expiry entries are skipped by the collector.
            t.del_prefix(Tree::History, &prefix)?;
            for index in &table.indexes {
                t.del_prefix(Tree::Index, &index.id.to_be_bytes())?;
            }
            Ok(())
        })?;
        self.state.rowids.remove(&table.id);
        self.log_schema(name, SchemaChange::DropTable)
    }

    pub fn rename_table(&mut self, from: &str, to: &str) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        catalog.rename_table(from, to)?;
        self.catalog = Arc::new(catalog);
        self.log_schema(from, SchemaChange::RenameTable { to: to.into() })
    }

    /// Adds a column; existing rows read it as `spec.backfill` without being rewritten.
    pub fn add_column(&mut self, table: &str, spec: &ColumnSpec) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        let schema = catalog.add_column(table, spec)?;
        self.catalog = Arc::new(catalog);
        let column = schema.columns.last().cloned().ok_or_else(|| {
            Error::InvalidSchema(format!("table {table} has no columns after ADD COLUMN"))
        })?;
        self.log_schema(table, SchemaChange::AddColumn(column))
    }

    /// Sets (or with `None` removes) metadata a layer above core keeps with `table`.
    pub fn set_table_extension(
        &mut self,
        table: &str,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        if key == crate::compress::FSST_EXTENSION {
            return Err(Error::InvalidSchema(format!(
                "the extension {key} holds core's FSST symbol tables and only core writes it; \
                 use set_column_compression"
            )));
        }
        if key == crate::storage::STORAGE_EXTENSION {
            let schema = self.table(table)?;
            let layout = match &value {
                Some(v) => crate::storage::StorageOptions::decode(v)?.layout,
                None => crate::storage::Layout::Row,
            };
            if layout != schema.storage().layout && self.scan(table, ..)?.next().is_some() {
                return Err(Error::InvalidSchema(format!(
                    "table {table} has rows: its layout (row or columnar) is chosen when it \
                     is created; copy the rows into a new table to change it"
                )));
            }
        }
        let mut catalog = (*self.catalog).clone();
        catalog.set_extension(table, key, value.clone())?;
        self.catalog = Arc::new(catalog);
        self.log_schema(
            table,
            SchemaChange::SetExtension {
                key: key.into(),
                value,
            },
        )
    }

    /// Sets (or with `None` removes) database-wide metadata of a layer above core. Logged
    /// as a `SetExtension` with an empty table name.
    pub fn set_database_extension(&mut self, key: &str, value: Option<Vec<u8>>) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        catalog.set_database_extension(key, value.clone());
        self.catalog = Arc::new(catalog);
        self.log_schema(
            "",
            SchemaChange::SetExtension {
                key: key.into(),
                value,
            },
        )
    }

    /// Creates a secondary index and fills it from the existing rows.
    pub fn create_index(&mut self, table: &str, spec: &IndexSpec) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        let (schema, index) = catalog.create_index(table, spec)?;
        let rows: Vec<Row> = self.scan(table, ..)?.collect::<Result<_>>()?;
        self.mutate(|t, _| {
            if index.unique {
                let mut seen = std::collections::HashSet::new();
                for row in &rows {
                    if index_has_null(&index, &row.values) {
                        continue;
                    }
                    if !seen.insert(index_key(&index, &row.values, &[])) {
                        let shown: Vec<String> = index
                            .columns
                            .iter()
                            .map(|&c| row.values[c].to_string())
                            .collect();
                        return Err(Error::UniqueViolation {
                            table: schema.name.clone(),
                            index: index.name.clone(),
                            key: format!("({})", shown.join(", ")),
                        });
                    }
                }
            }
            for row in &rows {
                let pk = key::encode(&row.key);
                t.put(Tree::Index, &index_key(&index, &row.values, &pk), &[])?;
            }
            Ok(())
        })?;
        self.catalog = Arc::new(catalog);
        self.log_schema(table, SchemaChange::CreateIndex(index))
    }

    pub fn drop_index(&mut self, name: &str) -> Result<()> {
        let mut catalog = (*self.catalog).clone();
        let (table, index) = catalog.drop_index(name)?;
        self.catalog = Arc::new(catalog);
        self.mutate(|t, _| t.del_prefix(Tree::Index, &index.id.to_be_bytes()))?;
        self.log_schema(&table.name, SchemaChange::DropIndex { name: name.into() })
    }

    // ----------------------------------------------------------------------------------
    // Replay
    // ----------------------------------------------------------------------------------

    /// Applies a change record read from some database's log, as a local change of this
    /// transaction. Replaying a log in order into an empty database reproduces the data.
    pub fn apply_change(&mut self, record: &ChangeRecord) -> Result<()> {
        let name = record.table.as_str();
        match &record.change {
            Change::Insert { key, columns } => {
                let table = self.table(name)?;
                check_key_arity(&table, key)?;
                let mut base = vec![Value::Null; table.columns.len()];
                for (&at, value) in table.primary_key.iter().zip(key) {
                    base[at] = value.clone();
                }
                let values = self.values_from_columns(name, Some(base), columns)?;
                if !table.has_rowid() {
                    return self.put(name, &values);
                }
                // Keep the logged rowid; the next new rowid is looked up again.
                check_row(&table, &values)?;
                if table.is_columnar() && self.get(name, key)?.is_some() {
                    return Err(Error::DuplicateKey {
                        table: table.name.clone(),
                        key: show_key(&key::encode(key)),
                    });
                }
                self.state.rowids.remove(&table.id);
                self.insert_at(table, key::encode(key), &values)
            }
            Change::Update { key, columns } => {
                let Some(old) = self.get(name, key)? else {
                    return Err(Error::Corrupt(format!(
                        "an update of {name} names a row that does not exist"
                    )));
                };
                let values = self.values_from_columns(name, Some(old), columns)?;
                self.update(name, key, &values).map(|_| ())
            }
            Change::Delete { key } => self.delete(name, key).map(|_| ()),
            Change::Schema(SchemaChange::CreateTable(t)) => {
                let mut spec = TableSpec::new(&t.name);
                for c in &t.columns {
                    let mut column =
                        ColumnSpec::new(&c.name, c.data_type).backfill(c.backfill.clone());
                    column.nullable = c.nullable;
                    spec = spec.column(column);
                }
                let pk = t
                    .primary_key
                    .iter()
                    .map(|&i| column_name(&t.columns, i))
                    .collect::<Result<Vec<_>>>()?;
                self.create_table(&spec.primary_key(pk))
            }
            Change::Schema(SchemaChange::DropTable) => self.drop_table(name),
            Change::Schema(SchemaChange::RenameTable { to }) => self.rename_table(name, to),
            Change::Schema(SchemaChange::AddColumn(c)) => {
                let mut column = ColumnSpec::new(&c.name, c.data_type).backfill(c.backfill.clone());
                column.nullable = c.nullable;
                self.add_column(name, &column)
            }
            Change::Schema(SchemaChange::CreateIndex(i)) => {
                let table = self.table(name)?;
                let columns = i
                    .columns
                    .iter()
                    .map(|&c| column_name(&table.columns, c))
                    .collect::<Result<Vec<_>>>()?;
                let mut spec = IndexSpec::new(&i.name, columns);
                spec.unique = i.unique;
                self.create_index(name, &spec)
            }
            Change::Schema(SchemaChange::DropIndex { name: index }) => self.drop_index(index),
            Change::Schema(SchemaChange::SetExtension { key, value }) if name.is_empty() => {
                self.set_database_extension(key, value.clone())
            }
            // Symbol tables are local to each file (see `compress.rs`); never logged, and
            // another node's are not this node's.
            Change::Schema(SchemaChange::SetExtension { key, .. })
                if key == crate::compress::FSST_EXTENSION =>
            {
                Ok(())
            }
            Change::Schema(SchemaChange::SetExtension { key, value }) => {
                self.set_table_extension(name, key, value.clone())
            }
        }
    }

    /// A full row from `(column id, value)` pairs laid over `base` (or all NULL).
    fn values_from_columns(
        &self,
        table: &str,
        base: Option<Vec<Value>>,
        columns: &[(crate::ColumnId, Value)],
    ) -> Result<Vec<Value>> {
        let schema = self.table(table)?;
        let mut values = base.unwrap_or_else(|| vec![Value::Null; schema.columns.len()]);
        for (id, value) in columns {
            let at = schema
                .column_by_id(*id)
                .ok_or_else(|| Error::ColumnNotFound {
                    table: table.into(),
                    column: format!("#{id}"),
                })?;
            values[at] = value.clone();
        }
        Ok(values)
    }

    // ----------------------------------------------------------------------------------
    // History collection
    // ----------------------------------------------------------------------------------

    /// Removes up to `limit` history versions that ended before the retention horizon.
    pub(crate) fn collect_history(&mut self, limit: usize) -> Result<u64> {
        let Some(horizon) = self.inner.retention_horizon(&self.inner.shared()) else {
            return Ok(0);
        };
        let removed = self.mutate(|t, _| {
            let end = (horizon.0.saturating_add(1)).to_be_bytes();
            let mut expired = Vec::new();
            for entry in t.expiry.range(..&end[..])?.take(limit) {
                expired.push(entry?.0.value().to_vec());
            }
            if expired.is_empty() {
                return Ok(0);
            }
            let old = t.meta.get(META_GC_HORIZON)?.map(|g| g.value().to_vec());
            let old = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes);
            t.put(
                Tree::Meta,
                META_GC_HORIZON,
                &old.max(horizon.0).to_le_bytes(),
            )?;
            for ek in &expired {
                let (valid_to, rest) = ek.split_at(8);
                let mut hk = rest.to_vec();
                hk.extend_from_slice(valid_to);
                t.del(Tree::History, &hk)?;
                t.del(Tree::Expiry, ek)?;
            }
            Ok(expired.len() as u64)
        })?;
        if removed > 0 {
            self.settings_changed = true;
        }
        Ok(removed)
    }

    // ----------------------------------------------------------------------------------
    // Commit
    // ----------------------------------------------------------------------------------

    /// Commits: the changes, their history and their change records become visible and
    /// (with durable commits, the default) survive a crash, all or nothing.
    pub fn commit(mut self) -> Result<CommitInfo> {
        if self.poisoned {
            return Err(Error::Storage(
                "an earlier storage error aborted this transaction; it was rolled back".into(),
            ));
        }
        let before = self.state.counters_at_begin;
        self.train_text_at_commit()?;
        self.finish_logical_commit()?;
        let changes = self.state.finished_changes;
        let mut info = CommitInfo {
            commit_seq: 0,
            commit_ts: self.state.commit_ts,
            node_id: self.state.node_id,
            changes,
        };
        if self.state.finished_commits > 0 {
            let next = Counters {
                last_ts: self.state.commit_ts.max(self.state.replicated_ts_max),
                ..self.state.counters
            };
            info.commit_seq = next.commit_seq;
            self.put_meta(META_COUNTERS, &next.encode())?;
            // Bounded history collection rides along every 128th commit.
            if next.commit_seq / 128 != before.commit_seq / 128 {
                self.collect_history(1024)?;
            }
        }
        if self.catalog_dirty {
            let bytes = self.catalog.encode();
            self.put_meta(META_CATALOG, &bytes)?;
        }
        let new_shared = if self.catalog_dirty || self.settings_changed {
            let mut shared: Shared = self.inner.shared().clone();
            shared.catalog = self.catalog.clone();
            self.read(|t| reload_settings(&t.meta, &mut shared))?;
            Some(shared)
        } else {
            None
        };
        let WriteTxn {
            inner, cell, state, ..
        } = self;
        let delta_rows = state.delta_rows;
        fence(|| {
            let txn = cell.into_owner();
            match new_shared {
                // Readers must not pair the new snapshot with the old catalog: swap both
                // under the lock that `begin_read` takes.
                Some(shared) => {
                    let mut guard = inner.shared_mut();
                    txn.commit()?;
                    *guard = shared;
                }
                None => txn.commit()?,
            }
            Ok(())
        })?;
        if !delta_rows.is_empty() {
            *inner
                .columnar_delta
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = delta_rows;
        }
        if changes > 0 {
            inner.notify(CommitNotice {
                commit_seq: info.commit_seq,
                commit_ts: info.commit_ts,
                changes,
            });
        }
        Ok(info)
    }

    /// Ends the logical commit being written, if it wrote anything: its last chunk goes to
    /// the log and the counters move past it.
    fn finish_logical_commit(&mut self) -> Result<()> {
        if self.state.changes == 0 {
            return Ok(());
        }
        self.mutate(flush_log)?;
        let s = &mut self.state;
        s.finished_changes = s.finished_changes.saturating_add(s.changes - 1);
        s.finished_commits += 1;
        s.counters.commit_seq += 1;
        if s.replicated.is_none() {
            s.counters.origin_seq += 1;
        }
        s.changes = 0;
        s.chunk_first = 0;
        Ok(())
    }

    /// Starts writing another node's commit: the changes made from here until the next
    /// call (or the commit) are logged as one commit of `origin`, so that they replicate
    /// onwards under their origin and this node's own commit counter does not move. One
    /// write transaction can hold many such commits (a sync batch), all committed or none.
    /// The local clock moves past the origin's timestamp.
    pub fn begin_replicated_commit(&mut self, origin: ReplicatedOrigin) -> Result<()> {
        if self.open_savepoints > 0 {
            return Err(Error::Storage(
                "a replicated commit cannot start while a savepoint is open; release it first"
                    .into(),
            ));
        }
        if origin.origin == self.state.node_id {
            return Err(Error::Storage(
                "a replicated commit cannot claim this node as its origin".into(),
            ));
        }
        self.finish_logical_commit()?;
        self.inner.clock.observe(origin.commit_ts);
        self.state.replicated_ts_max = self.state.replicated_ts_max.max(origin.commit_ts);
        self.state.replicated = Some(origin);
        Ok(())
    }

    /// A snapshot of what was committed before this transaction began (this transaction
    /// holds the writer lock, so nothing commits in between): history reads of a write
    /// transaction go through it.
    pub fn committed(&self) -> Result<ReadTxn> {
        ReadTxn::begin(self.inner.clone())
    }

    /// The local commit sequence this transaction's log reaches so far: that of the
    /// logical commit being written, or of the last one before it.
    /// Whether this transaction has changed anything yet (rows or schema).
    pub fn has_changes(&self) -> bool {
        self.state.changes > 0
    }

    pub fn commit_seq(&self) -> u64 {
        self.state.counters.commit_seq + u64::from(self.state.changes > 0)
    }

    /// Ends the replicated commit being written (if any): the changes made from here are
    /// this node's own again, logged as a new local commit after the replicated ones. Sync
    /// uses it to write what resolving a batch's conflicts needs in the batch's transaction.
    pub fn begin_local_commit(&mut self) -> Result<()> {
        if self.state.replicated.is_none() {
            return Ok(());
        }
        if self.open_savepoints > 0 {
            return Err(Error::Storage(
                "a local commit cannot start while a savepoint is open; release it first".into(),
            ));
        }
        self.finish_logical_commit()?;
        self.state.replicated = None;
        Ok(())
    }

    /// Discards every change of this transaction.
    pub fn rollback(self) -> Result<()> {
        fence(|| Ok(self.cell.into_owner().abort()?))
    }
}

// ---------------------------------------------------------------------------------------
// Compressed TEXT values (see `compress.rs`)
// ---------------------------------------------------------------------------------------

impl WriteTxn {
    /// Sets an extension of `table` that is local to this file: persisted with the catalog,
    /// never logged (the FSST symbol tables).
    fn set_local_table_extension(
        &mut self,
        table: &str,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> Result<Arc<TableSchema>> {
        let mut catalog = (*self.catalog).clone();
        let schema = catalog.set_extension(table, key, value)?;
        self.catalog = Arc::new(catalog);
        self.catalog_dirty = true;
        Ok(schema)
    }

    /// Trains the symbol tables `table`'s samples call for, if any are due; returns the
    /// schema to write with (new if a table was added).
    fn train_text_if_due(&mut self, table: Arc<TableSchema>) -> Result<Arc<TableSchema>> {
        if !table.text_training_due() {
            return Ok(table);
        }
        self.train_text(&table, false)
    }

    fn train_text(
        &mut self,
        table: &Arc<TableSchema>,
        at_commit: bool,
    ) -> Result<Arc<TableSchema>> {
        let added = crate::compress::plan_training(table, at_commit);
        if added.is_empty() {
            return Ok(table.clone());
        }
        match crate::compress::add_tables(table, added)? {
            Some(bytes) => self.set_local_table_extension(
                &table.name,
                crate::compress::FSST_EXTENSION,
                Some(bytes),
            ),
            None => Ok(table.clone()),
        }
    }

    /// At commit: trains first symbol tables from samples of at least 64 values.
    fn train_text_at_commit(&mut self) -> Result<()> {
        let due: Vec<Arc<TableSchema>> = self
            .catalog
            .tables()
            .filter(|t| t.text_training_at_commit() || t.text_training_due())
            .cloned()
            .collect();
        for table in due {
            self.train_text(&table, true)?;
        }
        Ok(())
    }

    /// Sets how the TEXT values of `table.column` are stored (`ALTER TABLE … ALTER COLUMN …
    /// SET COMPRESSION`), and rewrites the table's current rows to match: with FSST, a
    /// symbol table is trained on a sample of the existing values first. The rewrite keeps
    /// every value and `valid_from` and writes no history and no change record; only the
    /// setting is logged (as the table's storage extension). History versions keep the
    /// form they were written in. Row tables only; compressible columns are TEXT columns
    /// outside the primary key (any column can be set to `None`).
    pub fn set_column_compression(
        &mut self,
        table: &str,
        column: &str,
        compression: crate::storage::ColumnCompression,
    ) -> Result<()> {
        use crate::storage::ColumnCompression;
        let schema = self.table(table)?;
        if schema.is_columnar() {
            return Err(Error::InvalidSchema(format!(
                "table {table} is columnar: each of its columns is encoded with the codec that \
                 suits it, chosen per row group; SET COMPRESSION applies to row tables"
            )));
        }
        let at = schema
            .column_index(column)
            .ok_or_else(|| Error::ColumnNotFound {
                table: table.into(),
                column: column.into(),
            })?;
        let c = &schema.columns[at];
        if compression != ColumnCompression::None {
            if c.data_type != crate::DataType::Text {
                return Err(Error::InvalidSchema(format!(
                    "column {table}.{column} is {}; in row tables only TEXT columns can be \
                 compressed (fsst, lz4 or none)",
                    c.data_type
                )));
            }
            if schema.primary_key.contains(&at) {
                return Err(Error::InvalidSchema(format!(
                    "column {table}.{column} is part of the primary key, and key columns are \
                 stored uncompressed; compress the other TEXT columns"
                )));
            }
        }
        let id = c.id;
        let mut options = schema.storage().clone();
        options.columns.insert(id, compression);
        self.set_table_extension(
            table,
            crate::storage::STORAGE_EXTENSION,
            Some(options.encode()),
        )?;
        if compression == ColumnCompression::Fsst {
            let mut sample = crate::compress::Reservoir::default();
            for row in self.scan(table, ..)? {
                if let Some(Value::Text(s)) = row?.values.get(at) {
                    sample.offer(s.as_bytes());
                }
            }
            if let Some(st) = sample.train() {
                let schema = self.table(table)?;
                if let Some(bytes) = crate::compress::add_tables(&schema, vec![(id, st)])? {
                    self.set_local_table_extension(
                        table,
                        crate::compress::FSST_EXTENSION,
                        Some(bytes),
                    )?;
                }
            }
        }
        self.reencode_rows(table)
    }

    /// Rewrites the stored bytes of every current row of `table` with its current
    /// compression settings, in batches: the same values, no history, no change record.
    fn reencode_rows(&mut self, table: &str) -> Result<()> {
        let schema = self.table(table)?;
        let prefix = table_prefix(schema.id);
        let end = key::prefix_end(&prefix);
        let mut next = Bound::Included(prefix.to_vec());
        let mut out = Vec::new();
        loop {
            let batch = self.read(|t| {
                let mut batch = Vec::with_capacity(SCAN_BATCH);
                let range = (
                    next.as_ref().map(Vec::as_slice),
                    Bound::Excluded(end.as_slice()),
                );
                for entry in t.rows.range::<&[u8]>(range)?.take(SCAN_BATCH) {
                    let (k, v) = entry?;
                    batch.push((k.value().to_vec(), v.value().to_vec()));
                }
                Ok(batch)
            })?;
            let Some((last, _)) = batch.last() else {
                return Ok(());
            };
            next = Bound::Excluded(last.clone());
            let done = batch.len() < SCAN_BATCH;
            self.mutate(|t, _| {
                for (k, v) in &batch {
                    crate::row::reencode_row(&schema, v, &mut out)?;
                    if out != *v {
                        t.put(Tree::Rows, k, &out)?;
                    }
                }
                Ok(())
            })?;
            if done {
                return Ok(());
            }
        }
    }
}

/// A batched scan inside a write transaction.
pub struct WriteScan<'a> {
    txn: &'a WriteTxn,
    table: Arc<TableSchema>,
    /// A columnar table's row groups not read yet; they come before the delta rows.
    groups: std::collections::VecDeque<columnar::GroupHeader>,
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    batch: Vec<(Vec<u8>, Vec<u8>)>,
    done: bool,
}

const SCAN_BATCH: usize = 256;

impl WriteScan<'_> {
    fn refill(&mut self) -> Result<()> {
        if let Some(header) = self.groups.pop_front() {
            let table = self.table.clone();
            let rows = self
                .txn
                .read(|t| columnar::group_rows(&t.rows, &table, &header))?;
            let bounds = (
                self.next.as_ref().map(Vec::as_slice),
                self.end.as_ref().map(Vec::as_slice),
            );
            let mut batch = Vec::with_capacity(rows.len());
            for (rowid, bytes) in rows {
                let mut k = table_prefix(table.id).to_vec();
                key::encode_into(&Value::Integer(rowid), &mut k);
                if std::ops::RangeBounds::contains(&bounds, k.as_slice()) {
                    batch.push((k, bytes));
                }
            }
            batch.reverse();
            self.batch = batch;
            return Ok(());
        }
        let (next, end) = (self.next.clone(), self.end.clone());
        let mut batch = Vec::with_capacity(SCAN_BATCH);
        self.txn.read(|t| {
            let range = (
                next.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            for entry in t.rows.range::<&[u8]>(range)?.take(SCAN_BATCH) {
                let (k, v) = entry?;
                batch.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok(())
        })?;
        if batch.len() < SCAN_BATCH {
            self.done = true;
        }
        if let Some((k, _)) = batch.last() {
            self.next = Bound::Excluded(k.clone());
        }
        batch.reverse();
        self.batch = batch;
        Ok(())
    }
}

impl Iterator for WriteScan<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        if self.batch.is_empty() {
            if self.done {
                return None;
            }
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        let (k, v) = self.batch.pop()?;
        let row = key::decode(&k[4..]).and_then(|key| {
            Ok(Row {
                key,
                values: decode_row(&self.table, &v)?,
            })
        });
        Some(row)
    }
}
