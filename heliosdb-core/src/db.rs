//! Opening a database file, its meta records, and what all transactions share.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::Duration;

use redb::{ReadableTable, TableDefinition};

use crate::error::{Error, Result};
use crate::fence::fence;
use crate::hlc::{Clock, Hlc, WallClock};
use crate::log::NodeId;
use crate::read::ReadTxn;
use crate::schema::Catalog;
use crate::write::WriteTxn;

pub(crate) type Tbl = TableDefinition<'static, &'static [u8], &'static [u8]>;
pub(crate) const META: Tbl = TableDefinition::new("heliosdb.meta");
pub(crate) const ROWS: Tbl = TableDefinition::new("heliosdb.rows");
pub(crate) const HISTORY: Tbl = TableDefinition::new("heliosdb.history");
pub(crate) const EXPIRY: Tbl = TableDefinition::new("heliosdb.history_expiry");
pub(crate) const INDEX: Tbl = TableDefinition::new("heliosdb.index");
pub(crate) const LOG: Tbl = TableDefinition::new("heliosdb.log");

/// Meta records under this prefix belong to layers above core (see `WriteTxn::aux_put`).
pub(crate) const META_AUX_PREFIX: &[u8] = b"aux:";
pub(crate) const META_FORMAT: &[u8] = b"format";
pub(crate) const META_NODE_ID: &[u8] = b"node_id";
pub(crate) const META_CATALOG: &[u8] = b"catalog";
pub(crate) const META_COUNTERS: &[u8] = b"counters";
pub(crate) const META_RETENTION: &[u8] = b"retention_ms";
pub(crate) const META_GC_HORIZON: &[u8] = b"gc_horizon";

/// The file format this build writes, and the newest it opens. Version 2 (issue 8) may
/// hold LZ4-compressed change-log chunks (chunk format 2), compressed TEXT values (row-value
/// tags 9 and 10) and columnar row groups, which a version-1 build cannot read; a version-1
/// file reads as it is and is marked version 2 when it is opened, before anything of the
/// kind is written to it, so an older build refuses it with `NewerFormat` instead of
/// reporting damage. Version 3 (issue 9) writes commit headers of format 2 (with the local
/// commit time); older files are marked 3 when opened, the same way.
pub const FORMAT_VERSION: u32 = 3;

/// History kept by a new database unless changed with
/// [`Database::set_history_retention`]: 7 days.
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

const NO_RETENTION_LIMIT: u64 = u64::MAX;

/// How a database is opened.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Whether `commit` waits until the data is on disk (the default). Without it, commits
    /// are atomic and consistent but the last ones may be lost in a power failure.
    pub durable_commits: bool,
    /// The page cache size in bytes; redb's default when `None`.
    pub cache_bytes: Option<usize>,
    /// Verify the checksum of every page at open (reads the whole file). Without it, damage
    /// made to the file outside HeliosDB is found only when a damaged page is read, and a
    /// damaged page that still parses can go unnoticed; crashes and power loss are always
    /// recovered from either way.
    pub verify_on_open: bool,
    /// Where the node's clock reads physical time (the system clock by default). For
    /// tests and simulations; a real node keeps the system clock.
    pub wall_clock: WallClock,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            durable_commits: true,
            cache_bytes: None,
            verify_on_open: false,
            wall_clock: WallClock::system(),
        }
    }
}

/// Told to subscribers after each commit that changed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitNotice {
    pub commit_seq: u64,
    pub commit_ts: Hlc,
    /// Number of change records the commit wrote.
    pub changes: u32,
}

/// Counters persisted with every commit that changes something.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub commit_seq: u64,
    pub origin_seq: u64,
    pub last_ts: Hlc,
}

impl Counters {
    pub(crate) fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.commit_seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.origin_seq.to_le_bytes());
        b[16..].copy_from_slice(&self.last_ts.0.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        let b: &[u8; 24] = b
            .try_into()
            .map_err(|_| Error::Corrupt("counters record has a wrong size".into()))?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        Ok(Counters {
            commit_seq: word(0),
            origin_seq: word(1),
            last_ts: Hlc(word(2)),
        })
    }
}

/// State that DDL and settings commits change; swapped under the lock at commit.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub catalog: Arc<Catalog>,
    /// `None`: history is kept forever.
    pub retention_ms: Option<u64>,
    /// History with `valid_to` at or below this was collected.
    pub gc_horizon: Hlc,
}

pub(crate) struct Inner {
    pub redb: redb::Database,
    pub node_id: NodeId,
    pub clock: Clock,
    pub shared: RwLock<Shared>,
    pub subscribers: Mutex<Vec<mpsc::Sender<CommitNotice>>>,
    pub durable: bool,
    /// Commit in two phases (redb's `set_two_phase_commit`): the data is flushed before the
    /// commit slot is switched, so the latest commit never points at a page whose write was
    /// cut short. Custom backends get it: an authenticating backend (encryption at rest)
    /// reports such a torn block as an integrity error, which redb's one-phase recovery
    /// cannot tell from damage and would not fall back from. Plain files keep one-phase
    /// commits, whose recovery checks redb's own checksums and falls back.
    pub two_phase: bool,
    /// State that layers above core derive from the data and share per open database
    /// (e.g. the SQL layer's loaded vector indexes), by type; see [`Database::extension`].
    pub extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// Columnar tables' delta row counts as of the last commit, once counted (a hint for
    /// when to pack a row group; see `columnar.rs`).
    pub columnar_delta: Mutex<HashMap<crate::schema::TableId, u64>>,
}

impl Inner {
    pub(crate) fn shared(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.shared.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn shared_mut(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.shared.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn notify(&self, notice: CommitNotice) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send(notice).is_ok());
    }

    /// History that ended at or before this time is past the retention window (`None`:
    /// history is kept forever).
    pub(crate) fn retention_horizon(&self, shared: &Shared) -> Option<Hlc> {
        shared
            .retention_ms
            .map(|ms| self.clock.peek().saturating_sub_ms(ms))
    }

    /// The oldest time a read may ask for: history older than this may be gone.
    pub(crate) fn history_horizon(&self, shared: &Shared) -> Hlc {
        self.retention_horizon(shared)
            .unwrap_or(Hlc::ZERO)
            .max(shared.gc_horizon)
    }
}

/// An open database: one file (or memory), many snapshot readers, one writer at a time.
///
/// Cheap to clone; clones share the same open file.
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("node_id", &self.inner.node_id)
            .finish()
    }
}

fn map_open_error(path: &str, e: redb::DatabaseError) -> Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => Error::AlreadyOpen,
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(why))
            if why.contains("magic number") =>
        {
            Error::NotADatabase {
                path: path.into(),
                why,
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.to_string().contains("magic number") =>
        {
            Error::NotADatabase {
                path: path.into(),
                why: io.to_string(),
            }
        }
        redb::DatabaseError::Storage(s) => s.into(),
        other => Error::Storage(other.to_string()),
    }
}

fn builder(options: &DatabaseOptions) -> redb::Builder {
    let mut b = redb::Builder::new();
    if let Some(bytes) = options.cache_bytes {
        b.set_cache_size(bytes);
    }
    b.set_check_integrity_on_open(options.verify_on_open);
    b
}

impl Database {
    /// Opens the database at `path`, creating it if the file does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Self::open_with(path, DatabaseOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: DatabaseOptions) -> Result<Database> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        fence(|| {
            let redb = builder(&options)
                .create(path)
                .map_err(|e| map_open_error(&shown, e))?;
            Self::init(redb, &shown, options, false)
        })
    }

    /// A database that lives in memory and is gone when the last handle drops.
    pub fn open_in_memory() -> Result<Database> {
        let options = DatabaseOptions::default();
        let redb = builder(&options)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| map_open_error(":memory:", e))?;
        Self::init(redb, ":memory:", options, false)
    }

    /// Opens a database on a custom storage backend (encryption at rest plugs in here).
    /// `name` (usually the file's path) names the database in error messages. The
    /// backend's typed errors, sent as `io::Error`s of kind `InvalidData` carrying them,
    /// come back as [`Error::Backend`].
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        name: &str,
        options: DatabaseOptions,
    ) -> Result<Database> {
        fence(|| {
            let redb = builder(&options)
                .create_with_backend(backend)
                .map_err(|e| map_open_error(name, e))?;
            Self::init(redb, name, options, true)
        })
    }

    /// Checks or creates the meta records, then loads the catalog.
    /// `two_phase`: commit in two phases (see [`Inner::two_phase`]).
    fn init(
        redb: redb::Database,
        path: &str,
        options: DatabaseOptions,
        two_phase: bool,
    ) -> Result<Database> {
        let mut txn = redb.begin_write()?;
        txn.set_two_phase_commit(two_phase);
        let existing: Vec<String> = {
            use redb::TableHandle;
            txn.list_tables()?.map(|t| t.name().to_owned()).collect()
        };
        let (node_id, counters, shared) = {
            let mut meta = txn.open_table(META)?;
            let format = meta.get(META_FORMAT)?.map(|g| g.value().to_vec());
            match format {
                None if existing.iter().any(|n| !n.starts_with("heliosdb.")) => {
                    return Err(Error::NotADatabase {
                        path: path.into(),
                        why: "it is a redb file without HeliosDB's meta records".into(),
                    });
                }
                None => create_meta(&mut meta)?,
                Some(bytes) => {
                    let found =
                        u32::from_le_bytes(bytes.as_slice().try_into().map_err(|_| {
                            Error::Corrupt("format record has a wrong size".into())
                        })?);
                    if found > FORMAT_VERSION {
                        return Err(Error::NewerFormat {
                            found,
                            supported: FORMAT_VERSION,
                        });
                    }
                    if found < FORMAT_VERSION {
                        meta.insert(META_FORMAT, &FORMAT_VERSION.to_le_bytes()[..])?;
                    }
                }
            }
            load_meta(&meta)?
        };
        for t in [ROWS, HISTORY, EXPIRY, INDEX, LOG] {
            txn.open_table(t)?;
        }
        txn.commit()?;
        Ok(Database {
            inner: Arc::new(Inner {
                redb,
                node_id,
                clock: Clock::with_wall(counters.last_ts, options.wall_clock.clone()),
                shared: RwLock::new(shared),
                subscribers: Mutex::new(Vec::new()),
                durable: options.durable_commits,
                two_phase,
                extensions: Mutex::new(HashMap::new()),
                columnar_delta: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// This database's stable node id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// A consistent snapshot. Readers never block the writer or each other.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        fence(|| ReadTxn::begin(self.inner.clone()))
    }

    /// The write transaction. Blocks while another write transaction is open.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        fence(|| WriteTxn::begin(self.inner.clone()))
    }

    /// The one `T` this open database keeps for the layers above core, created with
    /// `T::default()` on first use. Every clone of this handle gets the same `Arc`, so
    /// state derived from the data (caches, loaded indexes) is built once per open file,
    /// whichever session, server or sync task asks. It is not persisted.
    pub fn extension<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut map = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let slot = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match slot.clone().downcast::<T>() {
            Ok(found) => found,
            // The map is keyed by the type id, so the entry always has type T; should that
            // ever not hold, replace it rather than fail.
            Err(_) => {
                let fresh = Arc::new(T::default());
                *slot = fresh.clone();
                fresh
            }
        }
    }

    /// A channel that receives a notice after every commit that changed something.
    pub fn subscribe(&self) -> mpsc::Receiver<CommitNotice> {
        let (tx, rx) = mpsc::channel();
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// The current HLC reading of this node's clock.
    pub fn now(&self) -> Hlc {
        self.inner.clock.peek()
    }

    /// This node's wall clock, in milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> u64 {
        self.inner.clock.wall_ms()
    }

    /// How long replaced and deleted row versions are kept; `None` keeps them forever.
    pub fn history_retention(&self) -> Option<Duration> {
        self.inner.shared().retention_ms.map(Duration::from_millis)
    }

    /// Sets and persists the history retention. Older history becomes unreadable at once
    /// and is removed by [`Database::collect_garbage`].
    pub fn set_history_retention(&self, retention: Option<Duration>) -> Result<()> {
        let ms = retention.map_or(NO_RETENTION_LIMIT, |d| {
            d.as_millis().min(u64::MAX as u128 - 1) as u64
        });
        let mut w = self.begin_write()?;
        w.put_meta(META_RETENTION, &ms.to_le_bytes())?;
        w.settings_changed = true;
        w.commit()?;
        Ok(())
    }

    /// Removes history older than the retention window, in bounded transactions.
    /// Returns the number of row versions removed.
    pub fn collect_garbage(&self) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let mut w = self.begin_write()?;
            let n = w.collect_history(10_000)?;
            if n == 0 {
                w.rollback()?;
                return Ok(removed);
            }
            w.commit()?;
            removed += n;
        }
    }
}

fn create_meta(meta: &mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<()> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::Storage(format!("no random source: {e}")))?;
    meta.insert(META_FORMAT, &FORMAT_VERSION.to_le_bytes()[..])?;
    meta.insert(META_NODE_ID, &id[..])?;
    meta.insert(META_CATALOG, Catalog::default().encode().as_slice())?;
    meta.insert(META_COUNTERS, &Counters::default().encode()[..])?;
    let retention = DEFAULT_HISTORY_RETENTION.as_millis() as u64;
    meta.insert(META_RETENTION, &retention.to_le_bytes()[..])?;
    meta.insert(META_GC_HORIZON, &0u64.to_le_bytes()[..])?;
    Ok(())
}

fn meta_u64(meta: &impl ReadableTable<&'static [u8], &'static [u8]>, key: &[u8]) -> Result<u64> {
    let guard = meta.get(key)?.ok_or_else(|| {
        Error::Corrupt(format!(
            "meta record {} is missing",
            String::from_utf8_lossy(key)
        ))
    })?;
    let bytes: [u8; 8] = guard.value().try_into().map_err(|_| {
        Error::Corrupt(format!(
            "meta record {} has a wrong size",
            String::from_utf8_lossy(key)
        ))
    })?;
    Ok(u64::from_le_bytes(bytes))
}

fn load_meta(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<(NodeId, Counters, Shared)> {
    let missing = |what: &str| Error::Corrupt(format!("meta record {what} is missing"));
    let node = meta.get(META_NODE_ID)?.ok_or_else(|| missing("node_id"))?;
    let node_id = NodeId(
        node.value()
            .try_into()
            .map_err(|_| Error::Corrupt("node id has a wrong size".into()))?,
    );
    let catalog = Catalog::decode(
        meta.get(META_CATALOG)?
            .ok_or_else(|| missing("catalog"))?
            .value(),
    )?;
    let counters = Counters::decode(
        meta.get(META_COUNTERS)?
            .ok_or_else(|| missing("counters"))?
            .value(),
    )?;
    let retention = meta_u64(meta, META_RETENTION)?;
    let shared = Shared {
        catalog: Arc::new(catalog),
        retention_ms: (retention != NO_RETENTION_LIMIT).then_some(retention),
        gc_horizon: Hlc(meta_u64(meta, META_GC_HORIZON)?),
    };
    Ok((node_id, counters, shared))
}

/// Re-reads the settings a write transaction may have changed.
pub(crate) fn reload_settings(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
    shared: &mut Shared,
) -> Result<()> {
    let retention = meta_u64(meta, META_RETENTION)?;
    shared.retention_ms = (retention != NO_RETENTION_LIMIT).then_some(retention);
    shared.gc_horizon = Hlc(meta_u64(meta, META_GC_HORIZON)?);
    Ok(())
}
