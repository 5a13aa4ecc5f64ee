//! The sync server: accepts QUIC connections, authenticates each sync stream by its token,
//! and runs the exchange of [`proto`](super::proto) against one [`SyncNode`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::proto::{
    AuthReply, AuthRequest, Control, ROUNDS_MAX, Reader, Record, Refusal, RefusalKind, Writer,
};
use super::tls::ServerIdentity;
use super::{Limits, NetError, batch_within, blocking, close, within};
use crate::auth::{self, AuthError, Grant, PublicKey};
use crate::node::{SyncError, SyncNode};
use crate::wire::{ChangeBatch, Message, RowChange, RowOp};
use heliosdb_core::SchemaChange;

/// How long a refusal waits for the peer to read it before the connection closes.
const REFUSAL_DELIVERY_WAIT: Duration = Duration::from_secs(2);

/// A sync server on one UDP socket.
///
/// ```no_run
/// # async fn run(node: std::sync::Arc<heliosdb_sync::SyncNode>) -> Result<(), Box<dyn std::error::Error>> {
/// use heliosdb_sync::auth::RootKey;
/// use heliosdb_sync::net::{Limits, ServerIdentity, SyncServer};
/// let root = RootKey::generate();
/// let identity = ServerIdentity::self_signed_dev()?;
/// println!("pin {}", identity.fingerprint());
/// let server = SyncServer::bind(
///     "0.0.0.0:4433".parse()?, &identity, node, root.public(), Limits::default())?;
/// server.spawn();
/// // …
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct SyncServer {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    endpoint: quinn::Endpoint,
    node: Arc<SyncNode>,
    root: PublicKey,
    limits: Limits,
    fingerprint: String,
    shutdown: watch::Sender<bool>,
    connections: AtomicU32,
    /// JWTs accepted besides biscuits, if configured.
    jwt: Option<crate::jwt::JwtConfig>,
    /// The local commit sequence of the database's latest commit that changed something,
    /// for watch streams (see [`commit_feed`]).
    commits: watch::Receiver<u64>,
}

impl SyncServer {
    /// Binds `addr` (port 0 picks a free port). Must be called inside a Tokio runtime.
    /// Nothing is served until [`serve`](Self::serve) or [`spawn`](Self::spawn).
    pub fn bind(
        addr: SocketAddr,
        identity: &ServerIdentity,
        node: Arc<SyncNode>,
        root: PublicKey,
        limits: Limits,
    ) -> Result<SyncServer, NetError> {
        limits.check()?;
        let config = identity.server_config(&limits)?;
        let endpoint = quinn::Endpoint::server(config, addr)?;
        let (shutdown, _) = watch::channel(false);
        let commits = super::commit_feed(&node)?;
        Ok(SyncServer {
            inner: Arc::new(Inner {
                endpoint,
                node,
                root,
                limits,
                fingerprint: identity.fingerprint().to_owned(),
                shutdown,
                connections: AtomicU32::new(0),
                jwt: None,
                commits,
            }),
            task: Mutex::new(None),
        })
    }

    /// Also accepts JWT bearer tokens (HS256 or EdDSA, see [`crate::jwt`]), mapped to the
    /// same rights. Call before [`serve`](Self::serve) or [`spawn`](Self::spawn).
    pub fn accept_jwt(mut self, config: crate::jwt::JwtConfig) -> Result<SyncServer, NetError> {
        let inner = Arc::get_mut(&mut self.inner).ok_or_else(|| {
            NetError::Config("accept_jwt must be called before the server is started".into())
        })?;
        inner.jwt = Some(config);
        Ok(self)
    }

    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        Ok(self.inner.endpoint.local_addr()?)
    }

    /// The fingerprint clients pin.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// Serves until [`shutdown`](Self::shutdown); returns once every connection is closed.
    pub async fn serve(&self) {
        Inner::serve(self.inner.clone()).await;
    }

    /// Serves in a background task (once; later calls do nothing).
    pub fn spawn(&self) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_none() {
            *task = Some(tokio::spawn(Inner::serve(self.inner.clone())));
        }
    }

    /// Stops accepting, closes every connection ([`close::SHUTDOWN`]), and waits for the
    /// background task of [`spawn`](Self::spawn), if any, to end.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.endpoint.close(
            quinn::VarInt::from_u32(close::SHUTDOWN),
            b"server shutting down",
        );
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.inner.endpoint.wait_idle().await;
    }
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        self.inner.shutdown.send_replace(true);
        self.inner.endpoint.close(
            quinn::VarInt::from_u32(close::SHUTDOWN),
            b"server shutting down",
        );
    }
}

/// Counts a connection while it lives.
struct Counted(Arc<Inner>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    async fn serve(inner: Arc<Inner>) {
        let mut stop = inner.shutdown.subscribe();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                incoming = inner.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    let count = inner.connections.fetch_add(1, Ordering::SeqCst);
                    let counted = Counted(inner.clone());
                    if count >= inner.limits.connections_max {
                        incoming.refuse();
                        drop(counted);
                        continue;
                    }
                    connections.spawn(connection(counted, incoming));
                }
                _ = stop.wait_for(|stopped| *stopped) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        inner.endpoint.close(
            quinn::VarInt::from_u32(close::SHUTDOWN),
            b"server shutting down",
        );
        // Closing the endpoint closes every connection; their tasks end with them.
        while connections.join_next().await.is_some() {}
    }
}

/// How a session ended badly: after a refusal it sent, or on an error.
enum End {
    Refused(Refusal),
    Failed(NetError),
}

impl From<NetError> for End {
    fn from(e: NetError) -> Self {
        End::Failed(e)
    }
}

impl End {
    fn close_code(&self) -> u32 {
        match self {
            End::Refused(refusal) => refusal.kind().close_code(),
            End::Failed(e) => close_code_for(e),
        }
    }

    fn reason(&self) -> String {
        let text = match self {
            End::Refused(refusal) => refusal.message.clone(),
            End::Failed(e) => e.to_string(),
        };
        // CONNECTION_CLOSE reasons must fit in a packet.
        text.chars().take(200).collect()
    }
}

/// The close code for an error of (or with) the peer.
pub(crate) fn close_code_for(e: &NetError) -> u32 {
    match e {
        NetError::TooLarge { .. } => close::TOO_LARGE,
        NetError::Timeout(_) => close::TIMEOUT,
        NetError::Version { .. } => close::VERSION,
        NetError::Sync(_) | NetError::Internal(_) | NetError::Io(_) => close::INTERNAL,
        NetError::Refused { kind, .. } => kind.close_code(),
        _ => close::PROTOCOL,
    }
}

async fn connection(counted: Counted, incoming: quinn::Incoming) {
    let inner = counted.0.clone();
    let conn = match tokio::time::timeout(inner.limits.handshake_timeout, incoming).await {
        Ok(Ok(conn)) => conn,
        // A failed or slow handshake: quinn has closed (or will drop) the connection.
        _ => return,
    };
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            stream = conn.accept_bi() => match stream {
                Ok((send, recv)) => {
                    sessions.spawn(session(inner.clone(), send, recv));
                }
                Err(_) => break,
            },
            Some(ended) = sessions.join_next(), if !sessions.is_empty() => {
                let outcome = ended.unwrap_or_else(|e| Err(End::Failed(e.into())));
                if let Err(end) = outcome {
                    conn.close(quinn::VarInt::from_u32(end.close_code()), end.reason().as_bytes());
                    break;
                }
            }
        }
    }
    drop(counted);
}

fn refusal_for(e: &AuthError) -> Refusal {
    let kind = match e {
        AuthError::Expired { .. } => RefusalKind::TokenExpired,
        AuthError::WrongRootKey { .. } => RefusalKind::WrongRootKey,
        AuthError::Tampered => RefusalKind::TokenTampered,
        AuthError::Garbled(_) => RefusalKind::TokenGarbled,
        _ => RefusalKind::TokenDenied,
    };
    Refusal::new(kind, None, e.to_string())
}

/// Sends `refusal`, waits briefly for it to be read, and ends the session with it.
async fn refuse(w: &mut Writer, refusal: Refusal) -> End {
    if w.record(&Control::Refused(refusal.clone())).await.is_ok() {
        w.finish(REFUSAL_DELIVERY_WAIT).await;
    }
    End::Refused(refusal)
}

fn expired(grant: &Grant) -> Option<Refusal> {
    grant.is_expired_at(SystemTime::now()).then(|| {
        Refusal::new(
            RefusalKind::TokenExpired,
            None,
            "the token expired during the sync: ask for a new token",
        )
    })
}

async fn session(
    inner: Arc<Inner>,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
) -> Result<(), End> {
    let limits = &inner.limits;
    let mut w = Writer::new(send);
    let mut r = Reader::new(recv, limits.frame_bytes_max);

    // The token first: nothing else is read, and nothing sent, before it verifies.
    let request: AuthRequest =
        within(limits.auth_timeout, "the client's token", r.control()).await?;
    let root = inner.root;
    let jwt = inner.jwt.clone();
    let verified = blocking(move || {
        let now = SystemTime::now();
        Ok(match jwt {
            Some(jwt) if crate::jwt::is_jwt(&request.token) => {
                crate::jwt::verify_jwt(&jwt, &request.token, now)
            }
            _ => auth::verify(&root, &request.token, now),
        })
    })
    .await?;
    let grant = match verified {
        Ok(grant) => Arc::new(grant),
        Err(e) => {
            let refusal = refusal_for(&e);
            if w.control(&AuthReply::Refused(refusal.clone()))
                .await
                .is_ok()
            {
                w.finish(REFUSAL_DELIVERY_WAIT).await;
            }
            return Err(End::Refused(refusal));
        }
    };
    let me = inner.node.node_id();
    w.control(&AuthReply::Accepted {
        server: me,
        frame_bytes_max: limits.frame_bytes_max,
        batch_commits_max: limits.batch_commits_max,
    })
    .await?;

    let (client, mut client_frontier) =
        match within(limits.message_timeout, "the client's Hello", r.record()).await? {
            Record::Wire(Message::Hello { node, frontier }) => (node, frontier),
            Record::Control(Control::Watch) => return watch_session(inner, w, r, grant).await,
            other => {
                return Err(protocol(format!(
                    "expected the client's Hello, got {}",
                    describe(&other)
                )));
            }
        };
    if client == me {
        return Err(protocol(
            "the client has this server's node id (a copied database?); give it its own \
             database"
                .into(),
        ));
    }
    let batch_max = limits.batch_commits_max as usize;
    let frame_max = limits.frame_bytes_max;

    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut moved = false;

        // Pull: what the client lacks, without what it may not read.
        loop {
            if let Some(refusal) = expired(&grant) {
                return Err(refuse(&mut w, refusal).await);
            }
            let (node, g, peer) = (inner.node.clone(), grant.clone(), client_frontier.clone());
            let batch = blocking(move || {
                batch_within(&node, &peer, batch_max, frame_max, |batch| {
                    filter_unreadable(&g, batch)
                })
            })
            .await?;
            let Some((record, _)) = batch else { break };
            w.raw(&record).await?;
            let frontier =
                match within(limits.message_timeout, "the client's Ack", r.record()).await? {
                    Record::Wire(Message::Ack { node, frontier }) if node == client => frontier,
                    other => {
                        return Err(protocol(format!(
                            "expected the client's Ack, got {}",
                            describe(&other)
                        )));
                    }
                };
            let progressed = !client_frontier.dominates(&frontier);
            client_frontier.merge(&frontier);
            let node = inner.node.clone();
            blocking(move || Ok(node.record_ack(client, &frontier)?)).await?;
            if !progressed {
                // The client cannot apply more of it yet: stop offering it.
                break;
            }
            moved = true;
        }
        let node = inner.node.clone();
        let frontier = blocking(move || Ok(node.frontier()?)).await?;
        w.message(&Message::Hello { node: me, frontier }).await?;

        // Push: what the client sends, if it may write every table of each batch.
        loop {
            let batch =
                match within(limits.message_timeout, "the client's changes", r.record()).await? {
                    Record::Wire(Message::Changes(batch)) => batch,
                    Record::Wire(Message::Hello { node, frontier }) if node == client => {
                        client_frontier.merge(&frontier);
                        let node = inner.node.clone();
                        blocking(move || Ok(node.record_ack(client, &frontier)?)).await?;
                        break;
                    }
                    other => {
                        return Err(protocol(format!(
                            "expected the client's Changes or Hello, got {}",
                            describe(&other)
                        )));
                    }
                };
            if batch.commits.len() > batch_max {
                let refusal = Refusal::new(
                    RefusalKind::TooLarge,
                    None,
                    format!(
                        "a batch of {} commits, over this server's limit of {batch_max}",
                        batch.commits.len()
                    ),
                );
                return Err(refuse(&mut w, refusal).await);
            }
            if let Some(refusal) = expired(&grant) {
                return Err(refuse(&mut w, refusal).await);
            }
            let (node, g) = (inner.node.clone(), grant.clone());
            let applied = blocking(move || {
                if let Some(table) = first_unwritable(&g, &batch) {
                    return Ok(Err(table));
                }
                let report = node.apply(&batch);
                Ok(Ok(report.and_then(|report| Ok((report, node.frontier()?)))))
            })
            .await?;
            let (report, frontier) = match applied {
                Err(table) => {
                    let refusal = Refusal::new(
                        RefusalKind::Forbidden,
                        Some(table.clone()),
                        format!(
                            "the token does not allow writing table {table:?}; nothing of \
                             the batch was applied"
                        ),
                    );
                    return Err(refuse(&mut w, refusal).await);
                }
                Ok(Err(SyncError::Refused(why))) => {
                    let refusal = Refusal::new(RefusalKind::Invalid, None, why);
                    return Err(refuse(&mut w, refusal).await);
                }
                Ok(Err(e)) => {
                    let refusal = Refusal::new(
                        RefusalKind::Internal,
                        None,
                        "the server could not apply the batch; try again later",
                    );
                    let _ = refuse(&mut w, refusal).await;
                    return Err(End::Failed(e.into()));
                }
                Ok(Ok(done)) => done,
            };
            if report.applied > 0 {
                moved = true;
            }
            w.message(&Message::Ack { node: me, frontier }).await?;
        }

        if !moved || rounds >= ROUNDS_MAX {
            w.record(&Control::Done).await?;
            w.finish(limits.message_timeout).await;
            return Ok(());
        }
    }
}

/// A watch stream: a [`Control::Poke`] each time this server's database commits
/// something (pokes are coalesced: one stands for every commit since the last), until the
/// client finishes the stream, the connection goes or the token expires. The client
/// answers a poke by syncing on another stream.
async fn watch_session(
    inner: Arc<Inner>,
    mut w: Writer,
    mut r: Reader,
    grant: Arc<Grant>,
) -> Result<(), End> {
    let mut commits = inner.commits.clone();
    commits.mark_unchanged();
    let mut stop = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    return Ok(()); // the database's notices ended
                }
                commits.mark_unchanged();
                if let Some(refusal) = expired(&grant) {
                    return Err(refuse(&mut w, refusal).await);
                }
                w.record(&Control::Poke).await?;
            }
            // The client sends nothing more on this stream: its end (or anything else)
            // ends the watch.
            read = r.record() => {
                return match read {
                    // Finished, reset or lost: the client is done watching.
                    Err(_) => Ok(()),
                    Ok(other) => Err(protocol(format!(
                        "a watch stream carries nothing after Watch, got {}",
                        describe(&other)
                    ))),
                };
            }
            () = async {
                let _ = stop.wait_for(|stopped| *stopped).await;
            } => return Ok(()),
        }
    }
}

fn protocol(why: String) -> End {
    End::Failed(NetError::Protocol(why))
}

fn describe(record: &Record) -> &'static str {
    match record {
        Record::Wire(Message::Hello { .. }) => "a Hello",
        Record::Wire(Message::Changes(_)) => "Changes",
        Record::Wire(Message::Ack { .. }) => "an Ack",
        Record::Control(Control::Done) => "Done",
        Record::Control(Control::Refused(_)) => "a refusal",
        Record::Control(Control::Watch) => "Watch",
        Record::Control(Control::Poke) => "a Poke",
    }
}

/// The tables a change names: its own, and a rename's new name. A database-wide change
/// (empty table name) counts as all tables.
fn tables_of(change: &RowChange) -> impl Iterator<Item = &str> {
    let renamed = match &change.op {
        RowOp::Schema(SchemaChange::RenameTable { to }) => Some(to.as_str()),
        _ => None,
    };
    std::iter::once(change.table.as_str())
        .chain(renamed)
        .map(|t| if t.is_empty() { auth::ALL_TABLES } else { t })
}

/// Removes the changes of tables the grant may not read. The commits stay (empty if need
/// be) so that the client's frontier still covers them.
pub(crate) fn filter_unreadable(grant: &Grant, batch: &mut ChangeBatch) {
    for commit in &mut batch.commits {
        commit
            .changes
            .retain(|change| tables_of(change).all(|t| grant.can_read(t)));
    }
}

/// The first table of the batch the grant may not write.
pub(crate) fn first_unwritable(grant: &Grant, batch: &ChangeBatch) -> Option<String> {
    batch
        .commits
        .iter()
        .flat_map(|c| &c.changes)
        .flat_map(tables_of)
        .find(|t| !grant.can_write(t))
        .map(str::to_owned)
}
