//! The background mode: one connection kept open, a sync whenever this node commits or
//! the server says it has (a `Poke` on a watch stream, see [`proto`](super::proto)), and
//! reconnection with exponential backoff when the connection goes.
//!
//! ```no_run
//! # async fn run(client: heliosdb_sync::net::SyncClient) {
//! let mut watch = client.watch();
//! while let Some(event) = watch.next().await {
//!     println!("{event:?}");
//! }
//! # }
//! ```

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::client::{SyncClient, SyncReport};
use super::proto::{Control, Reader, Record, Writer};
use super::{NetError, close};

/// The first wait before reconnecting; it doubles on each failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait before reconnecting.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Events kept for a reader that is behind; older ones are dropped, not the syncs.
const EVENTS_BUFFERED: usize = 256;

/// What the background mode did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A sync finished.
    Synced(SyncReport),
    /// The connection failed or was refused; the next attempt is in `retry_in`.
    Disconnected { error: String, retry_in: Duration },
}

/// A running background sync. Dropping it stops it too (less gracefully than
/// [`stop`](Self::stop)).
pub struct Watch {
    events: mpsc::Receiver<WatchEvent>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Watch {
    /// The next event; `None` once stopped.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// Closes the connection and waits for the background task to end.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl SyncClient {
    /// Starts the background mode (inside a Tokio runtime): connects, syncs, then syncs
    /// again each time this node's database commits something or the server pokes, on
    /// the same connection; reconnects with backoff when it fails. Events arrive through
    /// [`Watch::next`].
    pub fn watch(self) -> Watch {
        let (stop, stopped) = watch::channel(false);
        let (events, received) = mpsc::channel(EVENTS_BUFFERED);
        let task = tokio::spawn(run(self, stopped, events));
        Watch {
            events: received,
            stop,
            task: Some(task),
        }
    }
}

async fn run(
    client: SyncClient,
    mut stop: watch::Receiver<bool>,
    events: mpsc::Sender<WatchEvent>,
) {
    let mut local = match super::commit_feed(client.node()) {
        Ok(feed) => feed,
        Err(e) => {
            let _ = events.try_send(WatchEvent::Disconnected {
                error: e.to_string(),
                retry_in: Duration::MAX,
            });
            return;
        }
    };
    let mut backoff = BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        match connected(&client, &mut stop, &events, &mut local, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                let _ = events.try_send(WatchEvent::Disconnected {
                    error: e.to_string(),
                    retry_in: backoff,
                });
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&mut stop) => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// One connection's life: returns `Ok` when stopped, the error when the connection fails.
async fn connected(
    client: &SyncClient,
    stop: &mut watch::Receiver<bool>,
    events: &mpsc::Sender<WatchEvent>,
    local: &mut watch::Receiver<u64>,
    backoff: &mut Duration,
) -> Result<(), NetError> {
    let (endpoint, conn) = client.connect().await?;
    let result = watching(client, &conn, stop, events, local, backoff).await;
    let (code, reason) = match &result {
        Ok(()) => (close::DONE, "stopped".to_owned()),
        Err(e) => (
            super::server::close_code_for(e),
            e.to_string().chars().take(200).collect(),
        ),
    };
    conn.close(quinn::VarInt::from_u32(code), reason.as_bytes());
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    result
}

async fn watching(
    client: &SyncClient,
    conn: &quinn::Connection,
    stop: &mut watch::Receiver<bool>,
    events: &mpsc::Sender<WatchEvent>,
    local: &mut watch::Receiver<u64>,
    backoff: &mut Duration,
) -> Result<(), NetError> {
    let (send, recv) = conn.open_bi().await?;
    let mut w = Writer::new(send);
    let mut r = Reader::new(recv, client.limits().frame_bytes_max);
    client.authenticate(&mut w, &mut r).await?;
    w.record(&Control::Watch).await?;
    // The watch stream is read by its own task: a read cut short by `select!` would lose
    // bytes of a record.
    let (pokes_tx, mut pokes) = mpsc::channel::<Result<(), NetError>>(1);
    let reader = tokio::spawn(async move {
        loop {
            let poke = match r.record().await {
                Ok(Record::Control(Control::Poke)) => Ok(()),
                Ok(Record::Control(Control::Refused(refusal))) => Err(refusal.into_error()),
                Ok(other) => Err(NetError::Protocol(format!(
                    "expected a Poke on the watch stream, got {other:?}"
                ))),
                Err(e) => Err(e),
            };
            let failed = poke.is_err();
            match pokes_tx.try_send(poke) {
                // A poke already waiting stands for this one too.
                Ok(()) | Err(mpsc::error::TrySendError::Full(Ok(()))) => {}
                Err(mpsc::error::TrySendError::Full(Err(e))) => {
                    let _ = pokes_tx.send(Err(e)).await;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
            if failed {
                return;
            }
        }
    });
    let result = async {
        local.mark_unchanged();
        let mut dirty = true; // sync at once on (re)connecting
        loop {
            if dirty {
                dirty = false;
                let start = Instant::now();
                let mut report = SyncReport::default();
                client.exchange(conn, &mut report).await?;
                report.duration = start.elapsed();
                *backoff = BACKOFF_MIN;
                let _ = events.try_send(WatchEvent::Synced(report));
                continue;
            }
            tokio::select! {
                poke = pokes.recv() => match poke {
                    Some(Ok(())) => dirty = true,
                    Some(Err(e)) => return Err(e),
                    None => return Err(NetError::Protocol("the watch stream ended".into())),
                },
                changed = local.changed() => {
                    if changed.is_err() {
                        return Err(NetError::Internal("this database's commit notices ended".into()));
                    }
                    local.mark_unchanged();
                    dirty = true;
                }
                () = stopped(stop) => {
                    let _ = w.send.finish();
                    return Ok(());
                }
            }
        }
    }
    .await;
    reader.abort();
    result
}
