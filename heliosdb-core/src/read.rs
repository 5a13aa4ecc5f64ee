//! Snapshot reads: current rows, secondary indexes, history as of a past time, and the
//! change log.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::OnceLock;

use redb::{ReadOnlyTable, ReadableDatabase, ReadableTable};

use crate::columnar;
use crate::db::{HISTORY, INDEX, Inner, LOG, META, ROWS};
use crate::error::{Error, Result};
use crate::fence::{fence, fence_around_guest};
use crate::hlc::Hlc;
use crate::key;
use crate::log::{self, ChangeRecord, LogPosition};
use crate::row::{RowBytes, StoredRow, row_header};
use crate::schema::{Catalog, IndexSchema, TableSchema};
use crate::value::Value;

type RawReadTable = ReadOnlyTable<&'static [u8], &'static [u8]>;
type RawRange = redb::Range<'static, &'static [u8], &'static [u8]>;

/// Turns bounds over key prefixes into byte bounds within a table's key space.
pub(crate) fn key_bounds(
    prefix: [u8; 4],
    range: impl RangeBounds<Vec<Value>>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with_prefix = |values: &[Value]| {
        let mut k = prefix.to_vec();
        for v in values {
            key::encode_into(v, &mut k);
        }
        k
    };
    let start = match range.start_bound() {
        Bound::Included(v) => Bound::Included(with_prefix(v)),
        Bound::Excluded(v) => Bound::Included(key::prefix_end(&with_prefix(v))),
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    };
    let end = match range.end_bound() {
        Bound::Included(v) => Bound::Excluded(key::prefix_end(&with_prefix(v))),
        Bound::Excluded(v) => Bound::Excluded(with_prefix(v)),
        // Before `prefix ++ FF`: no row key has it (no key tag is 0xFF); a columnar
        // table's row groups do (see `columnar.rs`).
        Bound::Unbounded => Bound::Excluded([&prefix[..], &[0xFF]].concat()),
    };
    (start, end)
}

/// The primary-key part of an index entry's key.
pub(crate) fn index_entry_pk<'k>(entry: &'k [u8], index: &IndexSchema) -> Result<&'k [u8]> {
    // Skip the index id and one encoded value per indexed column.
    let mut rest = entry
        .get(4..)
        .ok_or_else(|| Error::Corrupt("index key truncated".into()))?;
    for _ in &index.columns {
        rest = skip_key_value(rest)?;
    }
    Ok(rest)
}

fn skip_key_value(bytes: &[u8]) -> Result<&[u8]> {
    Ok(&bytes[key::encoded_len(bytes)?..])
}

/// A consistent snapshot of the database.
pub struct ReadTxn {
    inner: Arc<Inner>,
    catalog: Arc<Catalog>,
    horizon: Hlc,
    txn: redb::ReadTransaction,
    rows: RawReadTable,
    // Opened on first use: a point read needs only `rows`, and opening a redb table costs
    // about as much as the read.
    history: OnceLock<RawReadTable>,
    index: OnceLock<RawReadTable>,
    log: OnceLock<RawReadTable>,
    meta: OnceLock<RawReadTable>,
}

/// The table in `cell`, opened from `txn` the first time.
fn lazy<'c>(
    cell: &'c OnceLock<RawReadTable>,
    txn: &redb::ReadTransaction,
    definition: crate::db::Tbl,
) -> Result<&'c RawReadTable> {
    if let Some(table) = cell.get() {
        return Ok(table);
    }
    let table = txn.open_table(definition)?;
    Ok(cell.get_or_init(|| table))
}

impl ReadTxn {
    pub(crate) fn begin(inner: Arc<Inner>) -> Result<ReadTxn> {
        let (txn, catalog, horizon) = {
            // Taken with the lock DDL commits hold, so the snapshot and catalog agree.
            let shared = inner.shared();
            let txn = inner.redb.begin_read()?;
            (txn, shared.catalog.clone(), inner.history_horizon(&shared))
        };
        Ok(ReadTxn {
            catalog,
            horizon,
            rows: txn.open_table(ROWS)?,
            history: OnceLock::new(),
            index: OnceLock::new(),
            log: OnceLock::new(),
            meta: OnceLock::new(),
            txn,
            inner,
        })
    }

    fn history(&self) -> Result<&RawReadTable> {
        lazy(&self.history, &self.txn, HISTORY)
    }

    fn index(&self) -> Result<&RawReadTable> {
        lazy(&self.index, &self.txn, INDEX)
    }

    fn log(&self) -> Result<&RawReadTable> {
        lazy(&self.log, &self.txn, LOG)
    }

    /// The local record `key` of the layers above core (see `WriteTxn::aux_put`).
    pub fn aux_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = crate::write::aux_key(key)?;
        fence(|| {
            let meta = lazy(&self.meta, &self.txn, META)?;
            Ok(meta.get(key.as_slice())?.map(|g| g.value().to_vec()))
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn table(&self, name: &str) -> Result<&TableSchema> {
        Ok(self.catalog.table(name)?)
    }

    /// The row with primary key `key` (the rowid for tables without a declared key).
    pub fn get(&self, table: &str, key: &[Value]) -> Result<Option<StoredRow<'_>>> {
        fence(|| {
            let table = self.catalog.table(table)?;
            let k = self.full_key(table, key)?;
            Ok(self
                .lookup(table, &k)?
                .map(|value| StoredRow { table, value }))
        })
    }

    /// The stored row under `full_key` (table prefix included): in the rows tree, or for a
    /// columnar table in its row groups.
    fn lookup(&self, table: &TableSchema, full_key: &[u8]) -> Result<Option<RowBytes>> {
        if let Some(value) = self.rows.get(full_key)? {
            return Ok(Some(value.into()));
        }
        if !table.is_columnar() {
            return Ok(None);
        }
        let rowid = columnar::rowid_of_key(&full_key[4..])?;
        Ok(match columnar::locate(&self.rows, table.id, rowid)? {
            Some(at) => Some(RowBytes::Owned(columnar::located_bytes(
                &self.rows, table, &at,
            )?)),
            None => None,
        })
    }

    /// Every row of `table` handed to `f` as values, one reused buffer; with `wanted`
    /// only the marked columns are decoded (the others read NULL). For a columnar table,
    /// groups that `zones` rule out are skipped unread and each group decodes only the
    /// wanted columns; rows come in storage order. Other tables scan in key order.
    pub fn scan_columns<E: From<Error>>(
        &self,
        table: &str,
        wanted: Option<&[bool]>,
        zones: &[columnar::ZoneFilter],
        mut f: impl FnMut(&[Value]) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        let schema = self.catalog.table(table)?;
        let mut values = Vec::new();
        if schema.is_columnar() {
            let headers = fence(|| columnar::headers(&self.rows, schema.id))?;
            let mut columns = Vec::new();
            for h in headers {
                if !columnar::group_may_match(schema, &h, zones) {
                    continue;
                }
                fence(|| {
                    columnar::decode_scan_columns(&self.rows, schema, &h, wanted, &mut columns)
                })?;
                values.clear();
                values.resize(schema.columns.len(), Value::Null);
                for i in 0..h.rows as usize {
                    if h.is_deleted(i) {
                        continue;
                    }
                    for (slot, column) in values.iter_mut().zip(columns.iter_mut()) {
                        column.take_into(i, slot);
                    }
                    if !f(&values)? {
                        return Ok(());
                    }
                }
            }
        }
        let mut stop = None;
        let mut delta = self.scan(table, ..)?;
        // The groups were read above; what is left is the delta.
        delta.groups = None;
        delta.for_each(|row| {
            row.decode_into(wanted, &mut values)?;
            match f(&values) {
                Ok(more) => Ok(more),
                Err(e) => {
                    stop = Some(e);
                    Ok::<_, Error>(false)
                }
            }
        })?;
        match stop {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The rows tree of this snapshot.
    pub(crate) fn rows_tree(&self) -> &RawReadTable {
        &self.rows
    }

    /// A columnar table's row groups (empty for other tables).
    pub fn row_groups(&self, table: &str) -> Result<Vec<columnar::GroupHeader>> {
        let schema = self.catalog.table(table)?;
        if !schema.is_columnar() {
            return Ok(Vec::new());
        }
        fence(|| columnar::headers(&self.rows, schema.id))
    }

    fn full_key(&self, table: &TableSchema, key: &[Value]) -> Result<Vec<u8>> {
        if key.len() != table.key_len() {
            return Err(Error::KeyArity {
                table: table.name.clone(),
                expected: table.key_len(),
                found: key.len(),
            });
        }
        let mut k = Vec::with_capacity(4 + key.iter().map(key::encoded_size_hint).sum::<usize>());
        k.extend_from_slice(&table.id.to_be_bytes());
        for v in key {
            key::encode_into(v, &mut k);
        }
        Ok(k)
    }

    /// Rows in primary-key order within `range`; each bound is a key prefix, so
    /// `[a]..=[a]` on a two-column key yields every row whose first key column is `a`.
    pub fn scan(&self, table: &str, range: impl RangeBounds<Vec<Value>>) -> Result<Scan<'_>> {
        fence(|| {
            let table = self.catalog.table(table)?;
            let (start, end) = key_bounds(table.id.to_be_bytes(), range);
            let inner = self.rows.range::<&[u8]>((
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            ))?;
            let mut scan = Scan::new(table, inner);
            if table.is_columnar() {
                scan.groups = Some(GroupCursor {
                    rows: &self.rows,
                    headers: columnar::headers(&self.rows, table.id)?.into(),
                    start,
                    end,
                });
            }
            Ok(scan)
        })
    }

    /// Rows whose index key lies in `range` (bounds are prefixes of the indexed columns),
    /// in index order.
    pub fn index_scan(
        &self,
        table: &str,
        index: &str,
        range: impl RangeBounds<Vec<Value>>,
    ) -> Result<IndexScan<'_>> {
        fence(|| {
            let table = self.catalog.table(table)?;
            let index = table
                .index(index)
                .ok_or_else(|| Error::IndexNotFound(index.into()))?;
            let (start, end) = key_bounds(index.id.to_be_bytes(), range);
            let entries = self.index()?.range::<&[u8]>((
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            ))?;
            Ok(IndexScan {
                txn: self,
                table,
                index,
                entries,
                row_key: Vec::new(),
            })
        })
    }

    fn check_as_of(&self, at: Hlc) -> Result<()> {
        if at < self.horizon {
            return Err(Error::HistoryUnavailable {
                requested: at,
                horizon: self.horizon,
            });
        }
        let now = self.inner.clock.peek();
        if at.physical_ms() > now.physical_ms() {
            return Err(Error::FutureTimestamp { requested: at, now });
        }
        Ok(())
    }

    /// The row with key `key` as it was at time `at`.
    ///
    /// History first: the first version of the key that ended after `at` is the one valid
    /// at `at` if it had begun by then, and if it had not, no version was (the current row
    /// began after it ended). Only when no version ended after `at` is the current row
    /// read, so a read of a key changed since `at` costs one lookup.
    pub fn get_as_of(&self, table: &str, key: &[Value], at: Hlc) -> Result<Option<StoredRow<'_>>> {
        fence(|| {
            self.check_as_of(at)?;
            let table = self.catalog.table(table)?;
            let mut k = self.full_key(table, key)?;
            let key_len = k.len();
            k.extend_from_slice(&at.0.saturating_add(1).to_be_bytes());
            if let Some(entry) = self.history()?.range(k.as_slice()..)?.next() {
                let (hk, value) = entry?;
                let hk = hk.value();
                // Keys are prefix-free, so this is the same key's history.
                if hk.len() == key_len + 8 && hk[..key_len] == k[..key_len] {
                    return Ok(if row_header(value.value())?.0 <= at {
                        Some(StoredRow {
                            table,
                            value: value.into(),
                        })
                    } else {
                        None
                    });
                }
            }
            k.truncate(key_len);
            match self.lookup(table, &k)? {
                Some(value) => {
                    let row = StoredRow { table, value };
                    Ok((row.valid_from()? <= at).then_some(row))
                }
                None => Ok(None),
            }
        })
    }

    /// Every row of `table` as it was at time `at`, in primary-key order.
    pub fn scan_as_of(&self, table: &str, at: Hlc) -> Result<AsOfScan<'_>> {
        self.scan_as_of_range(table, .., at)
    }

    /// The rows of `table` whose key lies in `range` (bounds are key prefixes), as they were
    /// at time `at`, in primary-key order.
    pub fn scan_as_of_range(
        &self,
        table: &str,
        range: impl RangeBounds<Vec<Value>>,
        at: Hlc,
    ) -> Result<AsOfScan<'_>> {
        fence(|| {
            self.check_as_of(at)?;
            let table = self.catalog.table(table)?;
            if table.is_columnar() {
                return Err(Error::InvalidSchema(format!(
                    "{} is a columnar table: reading all of it as of a past time is not \
                     supported yet (read single rows as of a time, or use a row table)",
                    table.name
                )));
            }
            // History keys are row keys followed by `valid_to`, so the row-key bounds
            // (prefix bounds) select the same keys' history.
            let (start, end) = key_bounds(table.id.to_be_bytes(), range);
            let bounds = (
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            let current = self.rows.range::<&[u8]>(bounds)?;
            let history = self.history()?.range::<&[u8]>(bounds)?;
            Ok(AsOfScan {
                table,
                at,
                current,
                history,
                pending_current: None,
                pending_history: None,
            })
        })
    }

    /// Every version of the rows of `table` with a key in `range` that was valid at some
    /// time in `from..=to`, and every delete in that window, in key order and, per key, in
    /// time order. `f` returns `false` to stop.
    ///
    /// A version's [`VersionOp`] says what made it: an insert (no version of the key ended
    /// when it began) or an update. A delete is reported as its own entry holding the
    /// deleted values, valid from the delete until the key was inserted again (`None`: not
    /// since).
    pub fn versions<E: From<Error>>(
        &self,
        table: &str,
        range: impl RangeBounds<Vec<Value>>,
        from: Hlc,
        to: Hlc,
        mut f: impl FnMut(Version) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        self.check_as_of(from)?;
        self.check_as_of(to)?;
        let schema = self.catalog.table(table)?;
        if schema.is_columnar() {
            return Err(Error::InvalidSchema(format!(
                "{} is a columnar table: its versions cannot be listed yet (use a row table)",
                schema.name
            ))
            .into());
        }
        let (start, end) = key_bounds(schema.id.to_be_bytes(), range);
        let bounds = (
            start.as_ref().map(Vec::as_slice),
            end.as_ref().map(Vec::as_slice),
        );
        let mut current = fence(|| Ok(self.rows.range::<&[u8]>(bounds)?))?;
        let mut history = fence(|| Ok(self.history()?.range::<&[u8]>(bounds)?))?;
        // One key's versions at a time: (valid_from, valid_to, row).
        type Entry<'t> = (Vec<u8>, Hlc, Option<Hlc>, StoredRow<'t>);
        let next_current = |it: &mut RawRange| -> Result<Option<Entry<'_>>> {
            fence(|| {
                let Some(entry) = it.next() else {
                    return Ok(None);
                };
                let (k, v) = entry?;
                let key = k.value().get(4..).unwrap_or_default().to_vec();
                let vf = row_header(v.value())?.0;
                Ok(Some((
                    key,
                    vf,
                    None,
                    StoredRow {
                        table: schema,
                        value: v.into(),
                    },
                )))
            })
        };
        let next_history = |it: &mut RawRange| -> Result<Option<Entry<'_>>> {
            fence(|| {
                let Some(entry) = it.next() else {
                    return Ok(None);
                };
                let (k, v) = entry?;
                let kb = k.value();
                if kb.len() < 12 {
                    return Err(Error::Corrupt("history key truncated".into()));
                }
                let mut vt = [0u8; 8];
                vt.copy_from_slice(&kb[kb.len() - 8..]);
                let key = kb[4..kb.len() - 8].to_vec();
                let vf = row_header(v.value())?.0;
                Ok(Some((
                    key,
                    vf,
                    Some(Hlc(u64::from_be_bytes(vt))),
                    StoredRow {
                        table: schema,
                        value: v.into(),
                    },
                )))
            })
        };
        let mut pending_c = next_current(&mut current)?;
        let mut pending_h = next_history(&mut history)?;
        let mut group: Vec<Entry<'_>> = Vec::new();
        loop {
            let key = match (&pending_c, &pending_h) {
                (Some(c), Some(h)) => c.0.clone().min(h.0.clone()),
                (Some(c), None) => c.0.clone(),
                (None, Some(h)) => h.0.clone(),
                (None, None) => return Ok(()),
            };
            group.clear();
            while pending_h.as_ref().is_some_and(|h| h.0 == key) {
                group.extend(pending_h.take());
                pending_h = next_history(&mut history)?;
            }
            if pending_c.as_ref().is_some_and(|c| c.0 == key) {
                group.extend(pending_c.take());
                pending_c = next_current(&mut current)?;
            }
            // History of one key is ordered by valid_to, which is its time order too.
            for i in 0..group.len() {
                let (_, vf, vt, row) = &group[i];
                let op = if i > 0 && group[i - 1].2 == Some(*vf) {
                    VersionOp::Update
                } else {
                    VersionOp::Insert
                };
                if *vf <= to && vt.is_none_or(|vt| vt > from) {
                    let version = Version {
                        values: row.values()?,
                        valid_from: *vf,
                        valid_to: *vt,
                        op,
                    };
                    if !f(version)? {
                        return Ok(());
                    }
                }
                if let Some(vt) = *vt {
                    let next = group.get(i + 1);
                    let deleted = next.is_none_or(|n| n.1 != vt);
                    if deleted && from <= vt && vt <= to {
                        let version = Version {
                            values: row.values()?,
                            valid_from: vt,
                            valid_to: next.map(|n| n.1),
                            op: VersionOp::Delete,
                        };
                        if !f(version)? {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Commit `commit_seq` as the change log records it, if the log still holds it.
    pub fn commit(&self, commit_seq: u64) -> Result<Option<CommitSummary>> {
        fence(|| {
            let at = LogPosition {
                commit_seq,
                index: 0,
            };
            let Some(chunk) = self.log()?.get(&at.to_key()[..])? else {
                return Ok(None);
            };
            let body = log::Chunk::decode(chunk.value())?;
            let records = body.records()?;
            let first = records
                .first()
                .ok_or_else(|| Error::Corrupt(format!("commit {commit_seq} has no header")))?;
            let h = log::decode_commit_header(first)?;
            Ok(Some(CommitSummary {
                commit_seq,
                local_ts: h.local_ts,
                commit_ts: h.commit_ts,
                origin: h.origin,
                origin_seq: h.origin_seq,
            }))
        })
    }

    /// The oldest commit the change log still holds (0 for none).
    pub fn first_commit_seq(&self) -> Result<u64> {
        fence(|| {
            Ok(match self.log()?.first()? {
                Some((k, _)) => LogPosition::from_key(k.value())?.commit_seq,
                None => 0,
            })
        })
    }

    /// The oldest time reads as of a past time may ask for.
    pub fn history_horizon(&self) -> Hlc {
        self.horizon
    }

    /// Up to `limit` change records after `after`, in log order.
    pub fn changes_after(&self, after: LogPosition, limit: usize) -> Result<Vec<ChangeRecord>> {
        fence(|| {
            let start = match after.index.checked_add(1) {
                Some(index) => LogPosition {
                    commit_seq: after.commit_seq,
                    index,
                },
                None => LogPosition {
                    commit_seq: after.commit_seq.saturating_add(1),
                    index: 0,
                },
            };
            // Begin at the chunk that holds `start`, if the commit has one before it.
            let mut from = start.to_key();
            if let Some(entry) = self.log()?.range(..=&from[..])?.next_back() {
                let (k, _) = entry?;
                let chunk = LogPosition::from_key(k.value())?;
                if chunk.commit_seq == start.commit_seq {
                    from = chunk.to_key();
                }
            }
            let mut out = Vec::new();
            let mut header: Option<(u64, log::CommitHeader)> = None;
            for entry in self.log()?.range(&from[..]..)? {
                if out.len() >= limit {
                    break;
                }
                let (k, v) = entry?;
                let chunk = LogPosition::from_key(k.value())?;
                let chunk_body = log::Chunk::decode(v.value())?;
                for (i, bytes) in chunk_body.records()?.into_iter().enumerate() {
                    let index = u32::try_from(i)
                        .ok()
                        .and_then(|i| chunk.index.checked_add(i))
                        .ok_or_else(|| Error::Corrupt("change-log chunk overflows".into()))?;
                    let position = LogPosition {
                        commit_seq: chunk.commit_seq,
                        index,
                    };
                    if index == 0 {
                        header = Some((position.commit_seq, log::decode_commit_header(bytes)?));
                        continue;
                    }
                    if position < start {
                        continue;
                    }
                    if out.len() >= limit {
                        break;
                    }
                    let h = match header {
                        Some((seq, h)) if seq == position.commit_seq => h,
                        // Started in the middle of a commit: read its header.
                        _ => {
                            let h = self.commit_header(position.commit_seq)?;
                            header = Some((position.commit_seq, h));
                            h
                        }
                    };
                    out.push(log::decode(&h, position, bytes)?);
                }
            }
            Ok(out)
        })
    }

    /// The header of commit `commit_seq`: the first record of its first chunk.
    fn commit_header(&self, commit_seq: u64) -> Result<log::CommitHeader> {
        let at = LogPosition {
            commit_seq,
            index: 0,
        };
        let missing = || Error::Corrupt(format!("commit {commit_seq} has no header"));
        let chunk = self.log()?.get(&at.to_key()[..])?.ok_or_else(missing)?;
        let body = log::Chunk::decode(chunk.value())?;
        let records = body.records()?;
        log::decode_commit_header(records.first().ok_or_else(missing)?)
    }

    /// Up to `limit` change records of commits after commit `commit_seq`.
    pub fn changes_since(&self, commit_seq: u64, limit: usize) -> Result<Vec<ChangeRecord>> {
        self.changes_after(LogPosition::end_of_commit(commit_seq), limit)
    }

    /// The sequence number of the last commit in this snapshot (0 for none).
    pub fn last_commit_seq(&self) -> Result<u64> {
        fence(|| {
            Ok(match self.log()?.last()? {
                Some((k, _)) => LogPosition::from_key(k.value())?.commit_seq,
                None => 0,
            })
        })
    }
}

/// Rows of a table in key order.
///
/// Rows are read from redb in batches of [`SCAN_BATCH`], each inside one `fence` (the
/// panic guard costs about a tenth of a row's read when paid per row).
pub struct Scan<'t> {
    table: &'t TableSchema,
    inner: RawRange,
    /// A columnar table's row groups not read yet; they come before `inner` (the delta).
    groups: Option<GroupCursor<'t>>,
    /// Values read ahead from the front, in key order.
    ahead: VecDeque<RowBytes>,
    /// An error met while reading ahead, reported after the rows before it.
    failed: Option<Error>,
    /// The front of `inner` is exhausted.
    done: bool,
}

const SCAN_BATCH: usize = 64;

impl<'t> Scan<'t> {
    fn new(table: &'t TableSchema, inner: RawRange) -> Self {
        Scan {
            table,
            inner,
            // Allocated on the first read ahead: `for_each` and point reads never need it.
            ahead: VecDeque::new(),
            groups: None,
            failed: None,
            done: false,
        }
    }

    /// Reads the next (`back`: the last) unread row group into `ahead`; false when none
    /// is left.
    fn read_group(&mut self, back: bool) -> Result<bool> {
        let table = self.table;
        let Some(cursor) = self.groups.as_mut() else {
            return Ok(false);
        };
        let header = if back {
            cursor.headers.pop_back()
        } else {
            cursor.headers.pop_front()
        };
        let Some(header) = header else {
            return Ok(false);
        };
        let rows = fence(|| columnar::group_rows(cursor.rows, table, &header))?;
        let mut key = Vec::new();
        let mut kept = Vec::with_capacity(rows.len());
        for (rowid, bytes) in rows {
            key.clear();
            key.extend_from_slice(&table.id.to_be_bytes());
            key::encode_into(&Value::Integer(rowid), &mut key);
            if cursor.contains(&key) {
                kept.push(RowBytes::Owned(bytes));
            }
        }
        if back {
            for row in kept.into_iter().rev() {
                self.ahead.push_back(row);
            }
        } else {
            self.ahead.extend(kept);
        }
        Ok(true)
    }

    fn read_ahead(&mut self) {
        loop {
            match self.read_group(false) {
                Ok(true) if self.ahead.is_empty() => continue,
                Ok(true) => return,
                Ok(false) => break,
                Err(e) => {
                    self.failed = Some(e);
                    self.done = true;
                    return;
                }
            }
        }
        self.ahead.reserve(SCAN_BATCH);
        let (inner, ahead) = (&mut self.inner, &mut self.ahead);
        let result = fence(|| {
            for _ in 0..SCAN_BATCH {
                match inner.next() {
                    Some(entry) => ahead.push_back(entry?.1.into()),
                    None => return Ok(true),
                }
            }
            Ok(false)
        });
        match result {
            Ok(done) => self.done = done,
            Err(e) => {
                self.failed = Some(e);
                self.done = true;
            }
        }
    }

    fn row(&self, value: RowBytes) -> StoredRow<'t> {
        StoredRow {
            table: self.table,
            value,
        }
    }
}

impl<'t> Scan<'t> {
    /// Hands each row to `f`, in key order, until `f` returns `Ok(false)` or an error.
    /// Cheaper than iterating: rows are not read ahead into a buffer, and one panic guard
    /// covers a batch of rows. A panic inside `f` is not a storage failure: it unwinds on
    /// as it was.
    pub fn for_each<E: From<Error>>(
        mut self,
        mut f: impl FnMut(StoredRow<'t>) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        // Rows an iterator call already read ahead come first, then unread row groups.
        loop {
            while let Some(value) = self.ahead.pop_front() {
                if !f(self.row(value))? {
                    return Ok(());
                }
            }
            if !self.read_group(false)? {
                break;
            }
        }
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        let table = self.table;
        let mut stop: Option<std::result::Result<(), E>> = None;
        while !self.done && stop.is_none() {
            let inner = &mut self.inner;
            let batch = fence_around_guest(|in_guest| {
                for _ in 0..SCAN_BATCH {
                    let Some(entry) = inner.next() else {
                        return Ok(true);
                    };
                    let row = StoredRow {
                        table,
                        value: entry?.1.into(),
                    };
                    in_guest.set(true);
                    let more = f(row);
                    in_guest.set(false);
                    match more {
                        Ok(true) => {}
                        Ok(false) => {
                            stop = Some(Ok(()));
                            return Ok(true);
                        }
                        Err(e) => {
                            stop = Some(Err(e));
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            });
            self.done = batch?;
        }
        stop.unwrap_or(Ok(()))
    }
}

impl<'t> Iterator for Scan<'t> {
    type Item = Result<StoredRow<'t>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ahead.is_empty() && !self.done {
            self.read_ahead();
        }
        match self.ahead.pop_front() {
            Some(value) => Some(Ok(self.row(value))),
            None => self.failed.take().map(Err),
        }
    }
}

impl DoubleEndedIterator for Scan<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        // Rows read ahead come before everything still in `inner`.
        let inner = &mut self.inner;
        match fence(|| Ok(inner.next_back().transpose()?)) {
            Ok(Some((_, value))) => Some(Ok(self.row(value.into()))),
            Ok(None) => loop {
                if let Some(value) = self.ahead.pop_back() {
                    return Some(Ok(self.row(value)));
                }
                match self.read_group(true) {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                }
            },
            Err(e) => Some(Err(e)),
        }
    }
}

/// A columnar scan's unread row groups and the key bounds rows must fall in.
struct GroupCursor<'t> {
    rows: &'t RawReadTable,
    headers: VecDeque<columnar::GroupHeader>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
}

impl GroupCursor<'_> {
    fn contains(&self, key: &[u8]) -> bool {
        (
            self.start.as_ref().map(Vec::as_slice),
            self.end.as_ref().map(Vec::as_slice),
        )
            .contains(key)
    }
}

/// Rows found through a secondary index.
pub struct IndexScan<'t> {
    txn: &'t ReadTxn,
    table: &'t TableSchema,
    index: &'t IndexSchema,
    entries: RawRange,
    /// The row key being looked up, a buffer reused across rows.
    row_key: Vec<u8>,
}

impl<'t> Iterator for IndexScan<'t> {
    type Item = Result<StoredRow<'t>>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        Some(fence(|| {
            let (k, _) = entry?;
            let pk = index_entry_pk(k.value(), self.index)?;
            let full = &mut self.row_key;
            full.clear();
            full.extend_from_slice(&self.table.id.to_be_bytes());
            full.extend_from_slice(pk);
            let value = self.txn.lookup(self.table, full)?.ok_or_else(|| {
                Error::Corrupt(format!("index {} points at a missing row", self.index.name))
            })?;
            Ok(StoredRow {
                table: self.table,
                value,
            })
        }))
    }
}

/// One version of a row (see [`ReadTxn::versions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub values: Vec<Value>,
    pub valid_from: Hlc,
    /// When the version was replaced or deleted; `None` while it is current.
    pub valid_to: Option<Hlc>,
    pub op: VersionOp,
}

/// What made a [`Version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOp {
    Insert,
    Update,
    Delete,
}

/// One commit of the change log (see [`ReadTxn::commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitSummary {
    pub commit_seq: u64,
    /// When the commit became visible here: the `valid_from` of the rows it wrote, and
    /// the time `AS OF` reads use for it.
    pub local_ts: Hlc,
    /// The commit's timestamp at its origin (equal to `local_ts` for a local commit).
    pub commit_ts: Hlc,
    pub origin: crate::log::NodeId,
    pub origin_seq: u64,
}

/// Rows of a table as of a past time: current rows that were already valid, merged in key
/// order with the history versions valid at that time.
pub struct AsOfScan<'t> {
    table: &'t TableSchema,
    at: Hlc,
    current: RawRange,
    history: RawRange,
    /// The next row of each stream, with its key (without the table prefix).
    pending_current: Option<(Vec<u8>, StoredRow<'t>)>,
    pending_history: Option<(Vec<u8>, StoredRow<'t>)>,
}

impl<'t> AsOfScan<'t> {
    fn next_current(&mut self) -> Result<Option<(Vec<u8>, StoredRow<'t>)>> {
        for entry in self.current.by_ref() {
            let (k, value) = entry?;
            if row_header(value.value())?.0 <= self.at {
                let key = k.value().get(4..).unwrap_or_default().to_vec();
                return Ok(Some((
                    key,
                    StoredRow {
                        table: self.table,
                        value: value.into(),
                    },
                )));
            }
        }
        Ok(None)
    }

    fn next_history(&mut self) -> Result<Option<(Vec<u8>, StoredRow<'t>)>> {
        for entry in self.history.by_ref() {
            let (k, v) = entry?;
            let kb = k.value();
            if kb.len() < 12 {
                return Err(Error::Corrupt("history key truncated".into()));
            }
            let mut vt = [0u8; 8];
            vt.copy_from_slice(&kb[kb.len() - 8..]);
            let valid_to = Hlc(u64::from_be_bytes(vt));
            if row_header(v.value())?.0 <= self.at && self.at < valid_to {
                let key = kb[4..kb.len() - 8].to_vec();
                return Ok(Some((
                    key,
                    StoredRow {
                        table: self.table,
                        value: v.into(),
                    },
                )));
            }
        }
        Ok(None)
    }

    fn step(&mut self) -> Result<Option<StoredRow<'t>>> {
        if self.pending_current.is_none() {
            self.pending_current = self.next_current()?;
        }
        if self.pending_history.is_none() {
            self.pending_history = self.next_history()?;
        }
        // A key has at most one version valid at `at`, so the two streams never tie.
        let take_current = match (&self.pending_current, &self.pending_history) {
            (Some((c, _)), Some((h, _))) => c < h,
            (current, _) => current.is_some(),
        };
        let next = if take_current {
            self.pending_current.take()
        } else {
            self.pending_history.take()
        };
        Ok(next.map(|(_, row)| row))
    }
}

impl<'t> Iterator for AsOfScan<'t> {
    type Item = Result<StoredRow<'t>>;

    fn next(&mut self) -> Option<Self::Item> {
        fence(|| self.step()).transpose()
    }
}
