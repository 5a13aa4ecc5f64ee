//! Sync over one database: what a peer lacks, applying a peer's batch, conflicts.
//!
//! Everything sync keeps lives in the database's local `aux:` records, written in the same
//! transaction as the data they describe:
//!
//! | record | value (u8 format 1, then postcard) |
//! | --- | --- |
//! | `sync/frontier` | [`VersionVector`]: per origin, the last commit applied (this node's own included) |
//! | `sync/cursor` | `u64`: the local commit sequence up to which the change log is folded into row metadata |
//! | `sync/row/` table ‖ key | [`RowState`] of that row (a key over 1 KiB encoded: `FF` ‖ its SHA-256) |
//! | `sync/dot/` origin ‖ seq (u64 BE) | [`StoredCommit`]: where to find the commit's changes |
//! | `sync/conflict/` n (u64 BE) | [`Conflict`] |
//! | `sync/acks` | per peer, the frontier it last acknowledged |
//! | `sync/forgotten` | peers removed for good |
//! | `sync/dropped/` table | `()`: the table was dropped here; rows other nodes still write to it are discarded |
//! | `sync/collect_cursor` | `Option<Vec<u8>>`: the last row record [`SyncNode::collect`] passed |
//!
//! Local writes pay nothing for sync: their commits are in the change log already, and
//! `catch_up` folds them into row metadata (their contexts fixed at that point) before a
//! batch is served or applied. The offline queue is therefore the log itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use heliosdb_core::{
    Change, ChangeRecord, ColumnId, ColumnSchema, Database, Hlc, LogPosition, NodeId, ReadTxn,
    ReplicatedOrigin, SchemaChange, TableSchema, Value, WriteTxn, key,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Stamp;
use crate::row::{Arrival, ConflictResolver, LastWriterWins, RowState, Write};
use crate::vv::{Dot, VersionVector};
use crate::wire::{ChangeBatch, Commit, RowChange, RowOp};

/// The format byte in front of every record sync stores.
const RECORD_FORMAT: u8 = 1;
const FRONTIER: &[u8] = b"sync/frontier";
const CURSOR: &[u8] = b"sync/cursor";
const CONFLICT_COUNT: &[u8] = b"sync/conflicts";
const ACKS: &[u8] = b"sync/acks";
const FORGOTTEN: &[u8] = b"sync/forgotten";
const COLLECT_CURSOR: &[u8] = b"sync/collect_cursor";
const ROW_PREFIX: &[u8] = b"sync/row/";
/// Log records folded per read while catching up (bounded memory).
const CATCH_UP_BATCH: usize = 4096;

/// Why a sync call failed. Nothing was applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] heliosdb_core::Error),
    /// A record sync stored is damaged or from a newer build.
    #[error("sync record {record} is unreadable: {why}")]
    Record { record: String, why: String },
    /// The batch names something this database cannot take.
    #[error("cannot apply the batch: {0}")]
    Refused(String),
}

pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// Where a commit's changes are, for serving it to peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredCommit {
    /// This node's own commit: its local sequence in the change log, and per change record
    /// (in log order) what sync adds to it.
    Local {
        commit_seq: u64,
        writes: Vec<LocalWrite>,
    },
    /// Another node's commit, kept as received so it relays unchanged.
    Replicated(Commit),
}

/// What sync knows of one local write beyond its change record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalWrite {
    /// What the row had seen when it was written.
    pub context: VersionVector,
    /// Columns the write did not change but that it *settles*: the row showed them with a
    /// value its conflict resolution chose, and without these the resolution after the
    /// write would read them differently. Shipped with the write so that every node reads
    /// what the writer saw.
    pub settled: Vec<(ColumnId, Value)>,
}

/// A conflict: a write that arrived concurrent with the row's own latest writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub table: String,
    pub key: Vec<Value>,
    /// The write that arrived.
    pub remote: Dot,
    pub remote_stamp: Stamp,
    /// The row as it read before (`None`: absent or deleted) and after.
    pub before: Option<BTreeMap<ColumnId, Value>>,
    pub after: Option<BTreeMap<ColumnId, Value>>,
    /// The resolver's name.
    pub rule: String,
}

/// What [`SyncNode::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Commits applied.
    pub applied: u64,
    /// Commits skipped because this node had them already.
    pub duplicates: u64,
    /// Commits skipped because an earlier commit of their origin is missing.
    pub gaps: u64,
    /// Conflicts resolved (each also recorded).
    pub conflicts: u64,
    /// Tables that commits of the batch wrote but this node does not have yet (their
    /// commits wait, counted in `gaps`).
    pub waiting_for_schema: Vec<String>,
}

/// What one [`SyncNode::collect`] step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Row records read.
    pub examined: u64,
    /// Row records rewritten without values no read can return any more.
    pub compacted: u64,
    /// Tombstones removed: rows whose latest writes are deletes every known node has.
    pub removed: u64,
    /// The pass reached the last row record (the next step starts again at the first).
    pub finished: bool,
}

/// Sync over one database.
pub struct SyncNode {
    db: Database,
    default_resolver: Arc<dyn ConflictResolver>,
    resolvers: BTreeMap<String, Arc<dyn ConflictResolver>>,
    clock_skew_max_ms: u64,
}

/// How far ahead of this node's clock a peer's commit may be stamped by default.
pub const CLOCK_SKEW_MAX_DEFAULT: std::time::Duration = std::time::Duration::from_secs(3600);

fn record<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_FORMAT];
    // Serializing these types into a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).unwrap_or_default());
    out
}

fn parse<T: DeserializeOwned>(name: &[u8], bytes: &[u8]) -> Result<T> {
    let bad = |why: String| SyncError::Record {
        record: String::from_utf8_lossy(name).into_owned(),
        why,
    };
    match bytes.split_first() {
        Some((&RECORD_FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| bad(e.to_string())),
        Some((format, _)) => Err(bad(format!(
            "format {format}, newer than this build's {RECORD_FORMAT}: upgrade HeliosDB Nano"
        ))),
        None => Err(bad("empty".into())),
    }
}

/// Encoded primary keys longer than this are named by their SHA-256 in row records, so
/// that any key fits core's bound on record names (`AUX_KEY_BYTES_MAX`).
const ROW_KEY_BYTES_INLINE: usize = 1024;
/// Marks a hashed key: no encoded key value starts with this byte.
const HASHED_KEY: u8 = 0xFF;

fn row_record(table: &str, key_values: &[Value]) -> Vec<u8> {
    let mut k = ROW_PREFIX.to_vec();
    k.extend_from_slice(&(table.len() as u32).to_be_bytes());
    k.extend_from_slice(table.as_bytes());
    let mut encoded = Vec::new();
    for v in key_values {
        key::encode_into(v, &mut encoded);
    }
    if encoded.len() > ROW_KEY_BYTES_INLINE {
        k.push(HASHED_KEY);
        k.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &encoded).as_ref());
    } else {
        k.extend_from_slice(&encoded);
    }
    k
}

/// Marks a table dropped here (or by a commit applied here): rows of later commits from
/// other nodes that still write it are discarded, not waited for.
fn dropped_record(table: &str) -> Vec<u8> {
    let mut k = b"sync/dropped/".to_vec();
    k.extend_from_slice(table.as_bytes());
    k
}

fn dot_record(dot: Dot) -> Vec<u8> {
    let mut k = b"sync/dot/".to_vec();
    k.extend_from_slice(&dot.node.0);
    k.extend_from_slice(&dot.seq.to_be_bytes());
    k
}

fn conflict_record(n: u64) -> Vec<u8> {
    let mut k = b"sync/conflict/".to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn change_key(change: &Change) -> Option<&[Value]> {
    match change {
        Change::Insert { key, .. } | Change::Update { key, .. } | Change::Delete { key } => {
            Some(key)
        }
        Change::Schema(_) => None,
    }
}

impl SyncNode {
    pub fn new(db: Database) -> Self {
        SyncNode {
            db,
            default_resolver: Arc::new(LastWriterWins),
            resolvers: BTreeMap::new(),
            clock_skew_max_ms: CLOCK_SKEW_MAX_DEFAULT.as_millis() as u64,
        }
    }

    /// Refuses batches with a commit stamped more than `skew` ahead of this node's clock.
    /// Applying one would move this node's clock (and so every later local write) that far
    /// ahead, and a far-future write would win every last-writer-wins conflict until then.
    pub fn set_clock_skew_max(&mut self, skew: std::time::Duration) {
        self.clock_skew_max_ms = u64::try_from(skew.as_millis()).unwrap_or(u64::MAX);
    }

    /// Resolves conflicts on `table` with `resolver` (the default is last-writer-wins).
    /// Every node must use the same resolver for a table, or they will read it differently.
    pub fn set_resolver(&mut self, table: &str, resolver: Arc<dyn ConflictResolver>) {
        self.resolvers.insert(table.to_owned(), resolver);
    }

    fn resolver(&self, table: &str) -> &dyn ConflictResolver {
        self.resolvers
            .get(table)
            .map_or(&*self.default_resolver, |r| &**r)
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn node_id(&self) -> NodeId {
        self.db.node_id()
    }

    /// What this node has: per origin, the last commit applied (its own included).
    pub fn frontier(&self) -> Result<VersionVector> {
        let mut w = self.db.begin_write()?;
        let (frontier, moved) = self.catch_up(&mut w)?;
        finish(w, moved)?;
        Ok(frontier)
    }

    fn load<T: DeserializeOwned + Default>(w: &WriteTxn, name: &[u8]) -> Result<T> {
        match w.aux_get(name)? {
            Some(bytes) => parse(name, &bytes),
            None => Ok(T::default()),
        }
    }

    /// Folds this node's commits since the cursor into row metadata, fixing each write's
    /// context; returns the frontier, and whether anything was written.
    fn catch_up(&self, w: &mut WriteTxn) -> Result<(VersionVector, bool)> {
        let me = self.db.node_id();
        let mut frontier: VersionVector = Self::load(w, FRONTIER)?;
        let mut cursor: u64 = Self::load(w, CURSOR)?;
        let cursor_at_start = cursor;
        let stable = Self::stable(w, &frontier, me)?;
        // The writer lock is held, so this snapshot holds every committed commit.
        let r: ReadTxn = self.db.begin_read()?;
        let mut at = LogPosition::end_of_commit(cursor);
        // This node's commit being read: its dot, local sequence and records.
        let mut open: Option<(Dot, u64, Vec<ChangeRecord>)> = None;
        loop {
            let records = r.changes_after(at, CATCH_UP_BATCH)?;
            let Some(last) = records.last() else { break };
            at = last.position;
            for rec in records {
                let seq = rec.position.commit_seq;
                if let Some((dot, commit_seq, recs)) = open.take_if(|(_, s, _)| *s != seq) {
                    self.fold_local_commit(w, &mut frontier, &stable, dot, commit_seq, &recs)?;
                }
                cursor = seq;
                if rec.origin != me {
                    continue; // written by `apply`, which kept its metadata then
                }
                let dot = Dot {
                    node: me,
                    seq: rec.origin_seq,
                };
                open.get_or_insert_with(|| (dot, seq, Vec::new()))
                    .2
                    .push(rec);
            }
        }
        if let Some((dot, commit_seq, recs)) = open.take() {
            self.fold_local_commit(w, &mut frontier, &stable, dot, commit_seq, &recs)?;
        }
        let moved = cursor != cursor_at_start;
        if moved {
            w.aux_put(CURSOR, &record(&cursor))?;
            w.aux_put(FRONTIER, &record(&frontier))?;
        }
        Ok((frontier, moved))
    }

    /// Folds one local commit into row metadata: one write per row it changed (however
    /// many statements changed it), each with the context the row had before the commit.
    #[allow(clippy::too_many_arguments)]
    fn fold_local_commit(
        &self,
        w: &mut WriteTxn,
        frontier: &mut VersionVector,
        stable: &VersionVector,
        dot: Dot,
        commit_seq: u64,
        records: &[ChangeRecord],
    ) -> Result<()> {
        let mut writes = Vec::new();
        for change in fold(records) {
            let (table, key_values, delete, mut columns, hlc) = match change {
                Folded::Row {
                    table,
                    key,
                    delete,
                    columns,
                    hlc,
                } => (table, key, delete, columns, hlc),
                Folded::Schema { table, change } => {
                    follow_schema(w, &table, &change)?;
                    writes.push(LocalWrite::default());
                    continue;
                }
            };
            let name = row_record(&table, &key_values);
            let mut row: RowState = Self::load(w, &name)?;
            let context = row.seen();
            let write = Write {
                stamp: Stamp {
                    hlc,
                    node: dot.node,
                },
                context: context.clone(),
                delete,
            };
            // Only a row whose reading came from resolving concurrent writes can read
            // differently after a write that saw it all; most writes skip resolving.
            let resolver = self.resolver(&table);
            let concurrent = row.has_concurrent_writes() || row.has_concurrent_values();
            let shown = match (delete, concurrent) {
                (false, true) => resolver.resolve(&row),
                _ => None,
            };
            let settled = match shown {
                Some(shown) => {
                    let mut after = row.clone();
                    after.merge(&RowState::of_write(dot, write.clone(), columns.clone()));
                    let backfill = w.catalog().table(&table).ok().cloned();
                    settled_columns(
                        &columns,
                        &shown,
                        resolver.resolve(&after),
                        backfill.as_deref(),
                    )
                }
                None => Vec::new(),
            };
            columns.extend(settled.iter().cloned());
            row.merge(&RowState::of_write(dot, write, columns));
            store_row(w, &name, row, stable)?;
            writes.push(LocalWrite { context, settled });
        }
        self.finish_local(w, frontier, dot, commit_seq, writes)
    }

    fn finish_local(
        &self,
        w: &mut WriteTxn,
        frontier: &mut VersionVector,
        dot: Dot,
        commit_seq: u64,
        writes: Vec<LocalWrite>,
    ) -> Result<()> {
        w.aux_put(
            &dot_record(dot),
            &record(&StoredCommit::Local { commit_seq, writes }),
        )?;
        frontier.raise(dot.node, dot.seq);
        Ok(())
    }

    /// Up to `commits_max` commits that a peer at `peer` lacks, in an order it can apply:
    /// per origin, oldest first.
    pub fn changes_for(&self, peer: &VersionVector, commits_max: usize) -> Result<ChangeBatch> {
        self.changes_for_within(peer, commits_max, usize::MAX)
    }

    /// As [`changes_for`](Self::changes_for), and stops adding commits once the batch holds
    /// `changes_max` row changes (it always holds at least one commit, however large):
    /// what bounds the memory of a large initial sync.
    pub fn changes_for_within(
        &self,
        peer: &VersionVector,
        commits_max: usize,
        changes_max: usize,
    ) -> Result<ChangeBatch> {
        let mut w = self.db.begin_write()?;
        let (frontier, moved) = self.catch_up(&mut w)?;
        finish(w, moved)?;
        let r = self.db.begin_read()?;
        let mut commits: Vec<Commit> = Vec::new();
        let mut changes = 0usize;
        'origins: for (origin, from, to) in peer.missing_from(&frontier) {
            for seq in from..=to {
                if commits.len() >= commits_max || (!commits.is_empty() && changes >= changes_max) {
                    break 'origins;
                }
                let dot = Dot { node: origin, seq };
                let name = dot_record(dot);
                let bytes = r.aux_get(&name)?.ok_or_else(|| SyncError::Record {
                    record: format!("sync/dot {dot:?}"),
                    why: "missing for a commit the frontier holds".into(),
                })?;
                let commit = match parse::<StoredCommit>(&name, &bytes)? {
                    StoredCommit::Replicated(commit) => commit,
                    StoredCommit::Local { commit_seq, writes } => {
                        local_commit(&r, dot, commit_seq, writes)?
                    }
                };
                changes = changes.saturating_add(commit.changes.len());
                commits.push(commit);
            }
        }
        Ok(ChangeBatch { commits })
    }

    /// Applies a peer's batch in one transaction: all of it or, on error, nothing.
    /// Commits this node has are skipped, so re-applying or duplicating batches changes
    /// nothing; a commit whose predecessor from its origin is missing is skipped too (it
    /// comes again in a later batch).
    pub fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport> {
        let mut w = self.db.begin_write()?;
        let (mut frontier, moved) = self.catch_up(&mut w)?;
        let mut report = ApplyReport::default();
        // Rows whose merged reading clashed with another row on a unique index.
        let mut clashes: Vec<Clash> = Vec::new();
        let me = self.db.node_id();
        let stable = Self::stable(&w, &frontier, me)?;
        // Checked against the wall clock before anything is applied: each applied commit
        // moves this node's clock, so checking as we go would let a batch ratchet it.
        let wall_ms = self.db.wall_ms();
        for commit in &batch.commits {
            let ahead_ms = commit.hlc.physical_ms().saturating_sub(wall_ms);
            if ahead_ms > self.clock_skew_max_ms {
                return Err(SyncError::Refused(format!(
                    "commit {} of node {:?} is stamped {} s ahead of this node's clock (at \
                     most {} s allowed): fix that node's clock, or this one's",
                    commit.dot.seq,
                    commit.dot.node,
                    ahead_ms / 1000,
                    self.clock_skew_max_ms / 1000
                )));
            }
        }
        for commit in &batch.commits {
            let dot = commit.dot;
            if frontier.contains(dot) {
                report.duplicates += 1;
                continue;
            }
            if dot.node == me || dot.seq != frontier.get(&dot.node) + 1 {
                report.gaps += 1;
                continue;
            }
            // A commit for a table that another origin's commit creates, and that has not
            // arrived yet, waits (as after a gap) while the rest of the batch applies.
            if let Some(table) = missing_table(&w, commit) {
                report.waiting_for_schema.push(table);
                report.gaps += 1;
                continue;
            }
            w.begin_replicated_commit(ReplicatedOrigin {
                origin: dot.node,
                origin_seq: dot.seq,
                commit_ts: commit.hlc,
            })?;
            for change in &commit.changes {
                if self.apply_change(&mut w, commit, change, &stable, &mut clashes)? {
                    report.conflicts += 1;
                }
            }
            w.aux_put(
                &dot_record(dot),
                &record(&StoredCommit::Replicated(commit.clone())),
            )?;
            frontier.raise(dot.node, dot.seq);
            report.applied += 1;
        }
        if report.applied == 0 {
            finish(w, moved)?;
            return Ok(report);
        }
        if clashes.is_empty() {
            // The log since the catch-up holds only the batch's commits, which the next
            // catch-up would read just to skip (their metadata is written already).
            w.aux_put(CURSOR, &record(&w.commit_seq()))?;
        } else {
            // The local commit settling the clashes is folded by the next catch-up.
            w.begin_local_commit()?;
            for clash in &clashes {
                report.conflicts += self.settle_clash(&mut w, clash)?;
            }
        }
        w.aux_put(FRONTIER, &record(&frontier))?;
        w.commit()?;
        Ok(report)
    }

    /// Merges one remote write into its row and writes the row as it now reads. Returns
    /// whether it was a conflict.
    fn apply_change(
        &self,
        w: &mut WriteTxn,
        commit: &Commit,
        change: &RowChange,
        stable: &VersionVector,
        clashes: &mut Vec<Clash>,
    ) -> Result<bool> {
        if let RowOp::Schema(schema) = &change.op {
            apply_schema(w, commit, &change.table, schema)?;
            return Ok(false);
        }
        // A row of a table dropped here: the drop wins, on every node that applies it.
        if is_dropped(w, &change.table) {
            return Ok(false);
        }
        let table: Arc<TableSchema> = w
            .catalog()
            .table(&change.table)
            .map_err(|_| {
                SyncError::Refused(format!(
                    "table {} does not exist here; create it on every node first",
                    change.table
                ))
            })?
            .clone();
        if table.has_rowid() {
            return Err(SyncError::Refused(format!(
                "table {} has no primary key; sync needs one to tell rows apart across nodes",
                table.name
            )));
        }
        let name = row_record(&table.name, &change.key);
        let mut row: RowState = Self::load(w, &name)?;
        // Merged even when the row has "seen" the write through a later write's context:
        // that later write may not have changed every column this one did. (The frontier
        // keeps true duplicates out; merging twice would change nothing anyway.)
        let arrival = row.arrival(commit.dot, &change.context);
        let resolver = self.resolver(&table.name);
        // How the row read before matters only for recording a conflict.
        let before = match arrival {
            Arrival::Concurrent => resolver.resolve(&row),
            Arrival::Seen | Arrival::FastForward => None,
        };
        let (delete, columns) = match &change.op {
            RowOp::Upsert { columns } => (false, columns.clone()),
            RowOp::Delete | RowOp::Schema(_) => (true, Vec::new()),
        };
        for (id, _) in &columns {
            if table.column_by_id(*id).is_none() {
                return Err(SyncError::Refused(format!(
                    "table {} has no column with id {id}; the nodes' schemas differ",
                    table.name
                )));
            }
        }
        let write = Write {
            stamp: Stamp {
                hlc: commit.hlc,
                node: commit.dot.node,
            },
            context: change.context.clone(),
            delete,
        };
        row.merge(&RowState::of_write(commit.dot, write, columns));
        let after = resolver.resolve(&row);
        match write_row(w, &table, &change.key, after.as_ref()) {
            Err(heliosdb_core::Error::UniqueViolation { .. }) => {
                let values = after.clone().unwrap_or_default();
                let row = full_row(&table, &change.key, &values);
                clashes.push(Clash {
                    values,
                    table: table.name.clone(),
                    key: change.key.clone(),
                    dot: commit.dot,
                    stamp: Stamp {
                        hlc: commit.hlc,
                        node: commit.dot.node,
                    },
                    holders: unique_holders(w, &table, &change.key, &row)?,
                })
            }
            other => other?,
        }
        store_row(w, &name, row, stable)?;
        if arrival != Arrival::Concurrent {
            return Ok(false);
        }
        let n: u64 = Self::load(w, CONFLICT_COUNT)?;
        let conflict = Conflict {
            table: table.name.clone(),
            key: change.key.clone(),
            remote: commit.dot,
            remote_stamp: Stamp {
                hlc: commit.hlc,
                node: commit.dot.node,
            },
            before,
            after,
            rule: resolver.name().to_owned(),
        };
        w.aux_put(&conflict_record(n + 1), &record(&conflict))?;
        w.aux_put(CONFLICT_COUNT, &record(&(n + 1)))?;
        Ok(true)
    }

    /// Settles a unique-index clash once the batch's commits are applied: the row reads
    /// as its merged writes say, but another row (another key) holds the same values of a
    /// unique index. The row whose latest write is later (by [`Stamp`]; the greater key
    /// on a tie) stays; the other is deleted by a local commit, which replicates like any
    /// write, so every node ends with the same row whichever order the writes came in.
    /// Each deleted row is recorded as a conflict with the version it lost. Returns the
    /// conflicts recorded.
    fn settle_clash(&self, w: &mut WriteTxn, clash: &Clash) -> Result<u64> {
        let table: Arc<TableSchema> = w.catalog().table(&clash.table)?.clone();
        let resolver = self.resolver(&table.name);
        let state = |w: &WriteTxn, key: &[Value]| -> Result<RowState> {
            Self::load(w, &row_record(&table.name, key))
        };
        let rule = |index_of: &[Value]| {
            format!(
                "unique index clash: the row with key ({}) was written later and stays",
                index_of
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let values_of = |t: &TableSchema, row: &[Value]| -> BTreeMap<ColumnId, Value> {
            t.columns
                .iter()
                .zip(row)
                .enumerate()
                .filter(|(at, _)| !t.primary_key.contains(at))
                .map(|(_, (c, v))| (c.id, v.clone()))
                .collect()
        };
        let mine = state(w, &clash.key)?;
        let Some(values) = resolver.resolve(&mine) else {
            // Deleted by a later commit of the batch: where the clash was settled on another
            // node, its delete came along, and this row lost.
            if let Some((winner, _)) = clash.holders.first() {
                let lost = (clash.key.clone(), clash.values.clone(), rule(winner));
                return self.record_clash(w, &table, clash, vec![lost]);
            }
            return Ok(0);
        };
        let mut losers: Vec<(Vec<Value>, BTreeMap<ColumnId, Value>, String)> = Vec::new();
        match write_row(w, &table, &clash.key, Some(&values)) {
            Err(heliosdb_core::Error::UniqueViolation { .. }) => {}
            other => {
                other?;
                // A later commit of the batch deleted or changed the other rows: where the
                // clash was settled on another node, its delete came along. Either way the
                // rows that are gone lost to this one.
                for (key, held) in &clash.holders {
                    if w.get(&table.name, key)?.is_none() {
                        losers.push((key.clone(), values_of(&table, held), rule(&clash.key)));
                    }
                }
                return self.record_clash(w, &table, clash, losers);
            }
        }
        let row = full_row(&table, &clash.key, &values);
        let holders = unique_holders(w, &table, &clash.key, &row)?;
        let rank = |key: &[Value], row: &RowState| {
            (row.latest().map(|(_, w)| w.stamp).max(), key::encode(key))
        };
        let my_rank = rank(&clash.key, &mine);
        let mut holder_ranks = Vec::new();
        for (key, _) in &holders {
            holder_ranks.push(rank(key, &state(w, key)?));
        }
        if holder_ranks.iter().all(|r| *r < my_rank) {
            for (key, held) in &holders {
                w.tombstone(&table.name, key)?;
                losers.push((key.clone(), values_of(&table, held), rule(&clash.key)));
            }
            write_row(w, &table, &clash.key, Some(&values))?;
        } else {
            w.tombstone(&table.name, &clash.key)?;
            let winner = holders
                .iter()
                .zip(&holder_ranks)
                .max_by(|a, b| a.1.cmp(b.1))
                .map(|((k, _), _)| k.clone())
                .unwrap_or_default();
            losers.push((clash.key.clone(), values, rule(&winner)));
        }
        self.record_clash(w, &table, clash, losers)
    }

    /// Records each row that lost a unique-index clash; returns how many.
    fn record_clash(
        &self,
        w: &mut WriteTxn,
        table: &TableSchema,
        clash: &Clash,
        losers: Vec<(Vec<Value>, BTreeMap<ColumnId, Value>, String)>,
    ) -> Result<u64> {
        if losers.is_empty() {
            return Ok(0);
        }
        let mut n: u64 = Self::load(w, CONFLICT_COUNT)?;
        let recorded = losers.len() as u64;
        for (key, before, rule) in losers {
            n += 1;
            let conflict = Conflict {
                table: table.name.clone(),
                key,
                remote: clash.dot,
                remote_stamp: clash.stamp,
                before: Some(before),
                after: None,
                rule,
            };
            w.aux_put(&conflict_record(n), &record(&conflict))?;
        }
        w.aux_put(CONFLICT_COUNT, &record(&n))?;
        Ok(recorded)
    }

    /// Records that `peer` has applied everything in `frontier` (from its `Ack`). What all
    /// known nodes have acknowledged is *stable*: replaced values and tombstones up to it
    /// are collected as their rows are next written.
    pub fn record_ack(&self, peer: NodeId, frontier: &VersionVector) -> Result<()> {
        if peer == self.node_id() {
            return Ok(());
        }
        let mut w = self.db.begin_write()?;
        let mut acks: BTreeMap<NodeId, VersionVector> = Self::load(&w, ACKS)?;
        acks.entry(peer).or_default().merge(frontier);
        w.aux_put(ACKS, &record(&acks))?;
        w.commit()?;
        Ok(())
    }

    /// One bounded step of the background collection pass: reads up to `rows_max` row
    /// records from where the last step stopped, drops the values and tombstones that
    /// stability made dead (what a write to the row would also drop), and remembers where
    /// it stopped. Rows never written again are collected this way; call it from an idle
    /// task until `finished`, then now and then.
    pub fn collect(&self, rows_max: usize) -> Result<Collected> {
        let mut w = self.db.begin_write()?;
        let (frontier, moved) = self.catch_up(&mut w)?;
        let me = self.db.node_id();
        let stable = Self::stable(&w, &frontier, me)?;
        let mut report = Collected::default();
        if stable.is_empty() {
            report.finished = true;
            finish(w, moved)?;
            return Ok(report);
        }
        let after: Option<Vec<u8>> = Self::load(&w, COLLECT_CURSOR)?;
        let records = w.aux_scan_after(ROW_PREFIX, after.as_deref(), rows_max.max(1))?;
        for (name, bytes) in &records {
            report.examined += 1;
            let mut row: RowState = parse(name, bytes)?;
            let before = row.clone();
            row.compact(&stable);
            if row.is_collectable(&stable) {
                w.aux_delete(name)?;
                report.removed += 1;
            } else if row != before {
                w.aux_put(name, &record(&row))?;
                report.compacted += 1;
            }
        }
        report.finished = records.len() < rows_max.max(1);
        let next: Option<Vec<u8>> = match records.last() {
            Some((name, _)) if !report.finished => Some(name.clone()),
            _ => None,
        };
        if next != after {
            w.aux_put(COLLECT_CURSOR, &record(&next))?;
        }
        let wrote = moved || report.removed + report.compacted > 0 || next != after;
        finish(w, wrote)?;
        Ok(report)
    }

    /// Removes a peer that will never return, so that what it never acknowledged stops
    /// holding back collection. Its commits already here stay.
    pub fn forget_peer(&self, peer: NodeId) -> Result<()> {
        let mut w = self.db.begin_write()?;
        let mut acks: BTreeMap<NodeId, VersionVector> = Self::load(&w, ACKS)?;
        acks.remove(&peer);
        let mut forgotten: std::collections::BTreeSet<NodeId> = Self::load(&w, FORGOTTEN)?;
        forgotten.insert(peer);
        w.aux_put(ACKS, &record(&acks))?;
        w.aux_put(FORGOTTEN, &record(&forgotten))?;
        w.commit()?;
        Ok(())
    }

    /// What every known node has applied, and this node has received everything those
    /// nodes had applied when they said so: then no write concurrent with a stable one can
    /// still arrive. Known nodes are the origins this node has commits from, the peers
    /// that acknowledged, and every node their acknowledgements name, less forgotten ones.
    /// Until every known node has acknowledged, nothing is stable; a node that knows of no
    /// other node cannot tell whether one exists, so nothing is stable for it either.
    fn stable(w: &WriteTxn, frontier: &VersionVector, me: NodeId) -> Result<VersionVector> {
        let acks: BTreeMap<NodeId, VersionVector> = Self::load(w, ACKS)?;
        let forgotten: std::collections::BTreeSet<NodeId> = Self::load(w, FORGOTTEN)?;
        let known: std::collections::BTreeSet<NodeId> = frontier
            .iter()
            .map(|(n, _)| n)
            .chain(acks.keys().copied())
            .chain(acks.values().flat_map(|a| a.iter().map(|(n, _)| n)))
            .filter(|n| *n != me && !forgotten.contains(n))
            .collect();
        if known.is_empty() {
            return Ok(VersionVector::new());
        }
        let mut stable = frontier.clone();
        for node in known {
            let Some(ack) = acks.get(&node) else {
                return Ok(VersionVector::new());
            };
            if !frontier.dominates(ack) {
                return Ok(VersionVector::new());
            }
            stable = stable
                .iter()
                .map(|(n, s)| (n, s.min(ack.get(&n))))
                .collect();
        }
        Ok(stable)
    }

    /// What sync keeps of one row (`None`: nothing, or a collected tombstone), as of the
    /// last catch-up.
    pub fn row_state(&self, table: &str, key_values: &[Value]) -> Result<Option<RowState>> {
        let name = row_record(table, key_values);
        let r = self.db.begin_read()?;
        r.aux_get(&name)?
            .map(|bytes| parse(&name, &bytes))
            .transpose()
    }

    /// Per peer, the frontier it last acknowledged (what [`record_ack`](Self::record_ack)
    /// kept): with [`pending_for`](Self::pending_for), each peer's offline queue.
    pub fn peers(&self) -> Result<BTreeMap<NodeId, VersionVector>> {
        let r = self.db.begin_read()?;
        match r.aux_get(ACKS)? {
            Some(bytes) => parse(ACKS, &bytes),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Every conflict recorded, oldest first.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let r = self.db.begin_read()?;
        let count: u64 = match r.aux_get(CONFLICT_COUNT)? {
            Some(bytes) => parse(CONFLICT_COUNT, &bytes)?,
            None => 0,
        };
        (1..=count)
            .map(|n| {
                let name = conflict_record(n);
                let bytes = r.aux_get(&name)?.ok_or_else(|| SyncError::Record {
                    record: format!("sync/conflict/{n}"),
                    why: "missing".into(),
                })?;
                parse(&name, &bytes)
            })
            .collect()
    }

    /// How many of this node's own commits a peer at `peer` lacks (the offline queue's
    /// length for it), and the timestamp of the oldest of them (its age).
    pub fn pending_for(&self, peer: &VersionVector) -> Result<(u64, Option<Hlc>)> {
        let frontier = self.frontier()?;
        let me = self.node_id();
        let (have, sent) = (frontier.get(&me), peer.get(&me));
        if have <= sent {
            return Ok((0, None));
        }
        // A peer that has everything else: what it lacks is this node's own commits.
        let mut others = frontier.clone();
        others.merge(peer);
        let only_mine: VersionVector = others
            .iter()
            .map(|(n, s)| (n, if n == me { sent } else { s }))
            .collect();
        let oldest = self.changes_for(&only_mine, 1)?;
        Ok((have - sent, oldest.commits.first().map(|c| c.hlc)))
    }
}

/// The columns a local write settles: those it did not change whose value after the
/// write (by the resolver) differs from what the row showed when it was written.
fn settled_columns(
    written: &[(ColumnId, Value)],
    shown: &BTreeMap<ColumnId, Value>,
    after: Option<BTreeMap<ColumnId, Value>>,
    table: Option<&TableSchema>,
) -> Vec<(ColumnId, Value)> {
    // A column the row showed without a value read as its backfill (its ADD COLUMN default).
    let backfill = |c: ColumnId| {
        table
            .and_then(|t| t.column_by_id(c).map(|at| t.columns[at].backfill.clone()))
            .unwrap_or(Value::Null)
    };
    let after = after.unwrap_or_default();
    let columns: std::collections::BTreeSet<ColumnId> =
        shown.keys().chain(after.keys()).copied().collect();
    columns
        .into_iter()
        .filter(|c| !written.iter().any(|(w, _)| w == c))
        .filter(|c| shown.get(c) != after.get(c))
        .map(|c| (c, shown.get(&c).cloned().unwrap_or_else(|| backfill(c))))
        .collect()
}

/// A local commit's changes as sync ships them: per row one write (later statements of
/// the commit overwrite earlier ones; the last insert or delete decides whether the row
/// exists), in the order rows were first touched; a schema change stays where it was, and
/// rows are folded only between schema changes (a row updated after ADD COLUMN needs the
/// column to exist first).
enum Folded {
    Row {
        table: String,
        key: Vec<Value>,
        delete: bool,
        columns: Vec<(ColumnId, Value)>,
        hlc: Hlc,
    },
    Schema {
        table: String,
        change: SchemaChange,
    },
}

fn fold(records: &[ChangeRecord]) -> Vec<Folded> {
    let mut out: Vec<Folded> = Vec::new();
    // Rows of the current group (since the last schema change): (table, key) → place.
    let mut group: BTreeMap<(String, Vec<u8>), usize> = BTreeMap::new();
    for rec in records {
        let Some(key_values) = change_key(&rec.change) else {
            if let Change::Schema(change) = &rec.change {
                group.clear();
                out.push(Folded::Schema {
                    table: rec.table.clone(),
                    change: change.clone(),
                });
            }
            continue;
        };
        let id = (rec.table.clone(), key::encode(key_values));
        let at = *group.entry(id).or_insert_with(|| {
            out.push(Folded::Row {
                table: rec.table.clone(),
                key: key_values.to_vec(),
                delete: false,
                columns: Vec::new(),
                hlc: rec.commit_ts,
            });
            out.len() - 1
        });
        let Some(Folded::Row {
            delete, columns, ..
        }) = out.get_mut(at)
        else {
            continue;
        };
        match &rec.change {
            // An insert lists every non-key column: it is the whole row.
            Change::Insert { columns: c, .. } => {
                *delete = false;
                *columns = c.clone();
            }
            Change::Update { columns: c, .. } => {
                *delete = false;
                for (id, value) in c {
                    match columns.iter_mut().find(|(have, _)| have == id) {
                        Some(slot) => slot.1 = value.clone(),
                        None => columns.push((*id, value.clone())),
                    }
                }
            }
            Change::Delete { .. } => {
                *delete = true;
                columns.clear();
            }
            Change::Schema(_) => {}
        }
    }
    out
}

/// Commits what `w` wrote, or rolls it back if it wrote nothing: a sync exchange that
/// finds nothing new should not cost a durable commit.
fn finish(w: WriteTxn, wrote: bool) -> Result<()> {
    if wrote {
        w.commit()?;
    } else {
        w.rollback()?;
    }
    Ok(())
}

/// One of this node's commits, read from the change log.
fn local_commit(r: &ReadTxn, dot: Dot, commit_seq: u64, writes: Vec<LocalWrite>) -> Result<Commit> {
    let mut records = Vec::new();
    let mut at = LogPosition::end_of_commit(commit_seq.saturating_sub(1));
    // Most commits are small: read a few records first, more while the commit goes on,
    // so serving many one-row commits does not decode thousands of records for each.
    let mut step = 16;
    'read: loop {
        let batch = r.changes_after(at, step)?;
        step = (step * 2).min(CATCH_UP_BATCH);
        let Some(last) = batch.last() else { break };
        at = last.position;
        for rec in batch {
            if rec.position.commit_seq != commit_seq {
                break 'read;
            }
            records.push(rec);
        }
    }
    let hlc = records.first().map_or(Hlc::ZERO, |rec| rec.commit_ts);
    let mut writes = writes.into_iter();
    let mut changes = Vec::new();
    for folded in fold(&records) {
        let LocalWrite { context, settled } = writes.next().unwrap_or_default();
        // Rows of tables without a declared key do not sync (their hidden rowids are per
        // node); a peer would refuse them and stall on the commit.
        if let Folded::Row { table, .. } = &folded
            && r.catalog().table(table).is_ok_and(|t| t.has_rowid())
        {
            continue;
        }
        changes.push(match folded {
            Folded::Row {
                table,
                key,
                delete,
                columns,
                ..
            } => RowChange {
                table,
                key,
                op: if delete {
                    RowOp::Delete
                } else {
                    RowOp::Upsert {
                        columns: columns.into_iter().chain(settled).collect(),
                    }
                },
                context,
            },
            Folded::Schema { table, change } => RowChange {
                table,
                key: Vec::new(),
                op: RowOp::Schema(change),
                context,
            },
        });
    }
    Ok(Commit { dot, hlc, changes })
}

/// Applies a schema change from a peer. A change this node already has (the same table,
/// column or index, as when every node ran the same DDL) is skipped; one that contradicts
/// this node's schema is refused. Columns must get the ids they have at the origin, since
/// row changes name columns by id.
fn apply_schema(
    w: &mut WriteTxn,
    commit: &Commit,
    table: &str,
    schema: &SchemaChange,
) -> Result<()> {
    let existing = w.catalog().table(table).ok().cloned();
    let diverged = |what: String| {
        SyncError::Refused(format!(
            "{what}; the nodes' schemas have diverged: make them agree before syncing"
        ))
    };
    let same_columns = |a: &[ColumnSchema], b: &[ColumnSchema]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.id == y.id && x.name == y.name && x.data_type == y.data_type)
    };
    match (schema, &existing) {
        (SchemaChange::CreateTable(t), Some(here)) => {
            if same_columns(&here.columns, &t.columns) && here.primary_key == t.primary_key {
                return Ok(());
            }
            return Err(diverged(format!(
                "table {} exists here with other columns",
                t.name
            )));
        }
        (SchemaChange::AddColumn(c), Some(here)) => {
            if let Some(at) = here.column_index(&c.name) {
                let mine = &here.columns[at];
                if mine.id == c.id && mine.data_type == c.data_type {
                    return Ok(());
                }
                return Err(diverged(format!("column {table}.{} differs here", c.name)));
            }
        }
        (SchemaChange::CreateIndex(i), Some(here)) if here.index(&i.name).is_some() => {
            return Ok(());
        }
        (SchemaChange::DropTable, None) => {
            w.aux_put(&dropped_record(table), &record(&()))?;
            return Ok(());
        }
        (SchemaChange::DropIndex { .. }, None) => return Ok(()),
        (SchemaChange::DropIndex { name }, Some(here)) if here.index(name).is_none() => {
            return Ok(());
        }
        (SchemaChange::RenameTable { to }, None) if w.catalog().table(to).is_ok() => {
            return Ok(());
        }
        _ => {}
    }
    let record = ChangeRecord {
        position: LogPosition::default(),
        commit_ts: commit.hlc,
        origin: commit.dot.node,
        origin_seq: commit.dot.seq,
        table: table.to_owned(),
        change: Change::Schema(schema.clone()),
    };
    w.apply_change(&record)?;
    follow_schema(w, table, schema)?;
    // Row changes name columns by id: the new ones must match the origin's.
    let check = |expected: &[ColumnSchema], name: &str| -> Result<()> {
        let here = w.catalog().table(name)?.clone();
        for c in expected {
            match here.column_index(&c.name) {
                Some(at) if here.columns[at].id == c.id => {}
                _ => {
                    return Err(diverged(format!(
                        "column {name}.{} got another id here",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    };
    match schema {
        SchemaChange::CreateTable(t) => check(&t.columns, &t.name),
        SchemaChange::AddColumn(c) => check(std::slice::from_ref(c), table),
        _ => Ok(()),
    }
}

/// The first table a commit writes rows of that neither exists here nor is created (or
/// renamed into being) earlier in the same commit.
fn missing_table(w: &WriteTxn, commit: &Commit) -> Option<String> {
    let mut created: Vec<&str> = Vec::new();
    for change in &commit.changes {
        match &change.op {
            RowOp::Schema(SchemaChange::CreateTable(t)) => created.push(&t.name),
            RowOp::Schema(SchemaChange::RenameTable { to }) => created.push(to),
            RowOp::Schema(_) => {}
            RowOp::Upsert { .. } | RowOp::Delete => {
                let known = created.contains(&change.table.as_str())
                    || w.catalog().table(&change.table).is_ok()
                    || is_dropped(w, &change.table);
                if !known {
                    return Some(change.table.clone());
                }
            }
        }
    }
    None
}

/// Whether `table` was dropped here and not created again.
fn is_dropped(w: &WriteTxn, table: &str) -> bool {
    w.catalog().table(table).is_err() && w.aux_get(&dropped_record(table)).ok().flatten().is_some()
}

/// Keeps row metadata with its table: a renamed table's rows move to the new name, and a
/// dropped table's rows go (a table created again under the name starts afresh).
fn follow_schema(w: &mut WriteTxn, table: &str, change: &SchemaChange) -> Result<()> {
    let moved_to = match change {
        SchemaChange::RenameTable { to } => {
            w.aux_delete(&dropped_record(to))?;
            Some(to.as_str())
        }
        SchemaChange::DropTable => {
            w.aux_put(&dropped_record(table), &record(&()))?;
            None
        }
        SchemaChange::CreateTable(t) => {
            w.aux_delete(&dropped_record(&t.name))?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let prefix = row_record(table, &[]);
    for (name, value) in w.aux_scan(&prefix)? {
        w.aux_delete(&name)?;
        if let (Some(to), Some(key_bytes)) = (moved_to, name.get(prefix.len()..)) {
            let mut renamed = row_record(to, &[]);
            renamed.extend_from_slice(key_bytes);
            w.aux_put(&renamed, &value)?;
        }
    }
    Ok(())
}

/// Stores a row's metadata after dropping what stability makes dead; a row whose latest
/// writes are all stable deletes is gone everywhere, so its record (the tombstone) goes.
fn store_row(
    w: &mut WriteTxn,
    name: &[u8],
    mut row: RowState,
    stable: &VersionVector,
) -> Result<()> {
    row.compact(stable);
    if row.is_collectable(stable) {
        w.aux_delete(name)?;
    } else {
        w.aux_put(name, &record(&row))?;
    }
    Ok(())
}

/// A row whose merged reading clashed with another row's on a unique index, and the
/// write that made it so.
struct Clash {
    table: String,
    key: Vec<Value>,
    dot: Dot,
    stamp: Stamp,
    /// The row's non-key values when the clash was found.
    values: BTreeMap<ColumnId, Value>,
    /// The rows (key, whole row) that held the values when the clash was found.
    holders: Vec<(Vec<Value>, Vec<Value>)>,
}

/// The rows other than `key` that hold `row`'s values of one of `table`'s unique indexes.
fn unique_holders(
    w: &WriteTxn,
    table: &TableSchema,
    key: &[Value],
    row: &[Value],
) -> Result<Vec<(Vec<Value>, Vec<Value>)>> {
    let mut holders: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
    for index in table.indexes.iter().filter(|i| i.unique) {
        let indexed: Vec<Value> = index.columns.iter().map(|&c| row[c].clone()).collect();
        if indexed.iter().any(|v| matches!(v, Value::Null)) {
            continue;
        }
        for held in w.index_scan(&table.name, &index.name, indexed.clone()..=indexed)? {
            if held.key != key && !holders.iter().any(|(k, _)| *k == held.key) {
                holders.push((held.key, held.values));
            }
        }
    }
    Ok(holders)
}

/// The whole row with key `key_values` and these non-key values (columns with no value
/// read as their backfill, NULL unless added with a default).
fn full_row(
    table: &TableSchema,
    key_values: &[Value],
    values: &BTreeMap<ColumnId, Value>,
) -> Vec<Value> {
    let mut row: Vec<Value> = table.columns.iter().map(|c| c.backfill.clone()).collect();
    for (&at, value) in table.primary_key.iter().zip(key_values) {
        row[at] = value.clone();
    }
    for (id, value) in values {
        if let Some(at) = table.column_by_id(*id)
            && !table.primary_key.contains(&at)
        {
            row[at] = value.clone();
        }
    }
    row
}

/// Writes the row as it reads after a merge: gone, or with these non-key values. Fails
/// (changing nothing) with `UniqueViolation` if another row holds its unique values.
fn write_row(
    w: &mut WriteTxn,
    table: &TableSchema,
    key_values: &[Value],
    values: Option<&BTreeMap<ColumnId, Value>>,
) -> Result<(), heliosdb_core::Error> {
    let current = w.get(&table.name, key_values)?;
    let Some(values) = values else {
        if current.is_some() {
            w.delete(&table.name, key_values)?;
        }
        return Ok(());
    };
    let row = full_row(table, key_values, values);
    match current {
        None => w.insert(&table.name, &row)?,
        Some(current) if current != row => {
            w.update(&table.name, key_values, &row)?;
        }
        Some(_) => {}
    }
    Ok(())
}
