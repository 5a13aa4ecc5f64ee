//! Sync over the network: QUIC (quinn, rustls with the ring provider), one bidirectional
//! stream per sync, tokens checked before any data moves.
//!
//! - [`SyncServer`]: binds a UDP port, accepts many clients at once, verifies each
//!   client's token ([`crate::auth`]), sends what the client lacks (without the tables it
//!   may not read) and applies what it pushes (refusing tables it may not write).
//! - [`SyncClient`]: syncs one [`SyncNode`](crate::SyncNode) with a server:
//!   `SyncClient::new(SyncConfig::new("quic://host:port", token, trust, node))?.sync().await`.
//! - [`ServerIdentity`] and [`Trust`]: the server's certificate, and how a client trusts it
//!   (a pinned SHA-256 fingerprint, or a CA file).
//! - [`proto`]: the protocol, byte for byte.
//!
//! The database work ([`SyncNode`](crate::SyncNode) is synchronous) runs on Tokio's
//! blocking pool, never on the runtime's worker threads.

pub mod client;
pub mod proto;
pub mod server;
pub mod tls;
pub mod watch;

use std::path::PathBuf;
use std::time::Duration;

pub use client::{Progress, Session, SyncClient, SyncConfig, SyncReport};
pub use proto::RefusalKind;
pub use server::SyncServer;
pub use tls::{ServerIdentity, Trust, fingerprint, install_crypto_provider};
pub use watch::{Watch, WatchEvent};

use crate::auth::AuthError;
use crate::node::SyncError;
use crate::wire::WireError;

/// QUIC application close codes this crate sends (`CONNECTION_CLOSE` error codes).
pub mod close {
    /// The sync finished.
    pub const DONE: u32 = 0;
    /// The peer sent something the protocol does not allow: garbage, a truncated frame, a
    /// message out of order.
    pub const PROTOCOL: u32 = 1;
    /// The token was refused.
    pub const UNAUTHORIZED: u32 = 2;
    /// The peer pushed changes to a table it may not write.
    pub const FORBIDDEN: u32 = 3;
    /// A frame or batch over the limits.
    pub const TOO_LARGE: u32 = 4;
    /// The peer was silent for too long.
    pub const TIMEOUT: u32 = 5;
    /// The server failed (storage error): not the peer's fault.
    pub const INTERNAL: u32 = 6;
    /// The server is shutting down.
    pub const SHUTDOWN: u32 = 7;
    /// The peer speaks another protocol version.
    pub const VERSION: u32 = 8;
    /// The server has as many connections as it takes.
    pub const BUSY: u32 = 9;
    /// The batch could not be applied (e.g. a commit stamped too far in the future).
    pub const REFUSED: u32 = 10;
}

/// Bounds on what a peer can make this side hold or wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest sync frame accepted (and sent: batches are split to fit the peer's).
    pub frame_bytes_max: u32,
    /// The most commits in one batch, sent or accepted.
    pub batch_commits_max: u32,
    /// Concurrent bidirectional streams a client may open on one connection.
    pub streams_per_connection: u32,
    /// Connections served at once (server); further ones are refused as busy.
    pub connections_max: u32,
    /// A connection with no packets for this long is closed (QUIC idle timeout).
    pub idle_timeout: Duration,
    /// The QUIC and TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// The client's token must arrive within this after its stream opens.
    pub auth_timeout: Duration,
    /// Each further message of the peer must arrive within this.
    pub message_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            frame_bytes_max: 16 * 1024 * 1024,
            batch_commits_max: 1000,
            streams_per_connection: 4,
            connections_max: 1024,
            idle_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    fn transport(&self, keep_alive: bool) -> Result<quinn::TransportConfig, NetError> {
        let mut transport = quinn::TransportConfig::default();
        transport.max_concurrent_bidi_streams(quinn::VarInt::from_u32(self.streams_per_connection));
        transport.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout).map_err(|_| {
            NetError::Config(format!("idle timeout {:?} is too long", self.idle_timeout))
        })?;
        transport.max_idle_timeout(Some(idle));
        if keep_alive {
            // The server may spend a while applying a batch: keep the path alive meanwhile.
            transport.keep_alive_interval(Some(self.idle_timeout / 3));
        }
        Ok(transport)
    }

    fn check(&self) -> Result<(), NetError> {
        if self.frame_bytes_max < 1024 || self.frame_bytes_max > crate::wire::FRAME_BYTES_MAX {
            return Err(NetError::Config(format!(
                "frame_bytes_max {} must be between 1024 and {}",
                self.frame_bytes_max,
                crate::wire::FRAME_BYTES_MAX
            )));
        }
        if self.batch_commits_max == 0 || self.streams_per_connection == 0 {
            return Err(NetError::Config(
                "batch_commits_max and streams_per_connection must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Why a network sync failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    #[error("bad sync server address {url:?}: {why}; write it as quic://host:port")]
    BadUrl { url: String, why: String },
    #[error(
        "bad certificate fingerprint {0:?}: expected the 64 hex digits of the SHA-256 of the \
         server's certificate, as the server prints it"
    )]
    BadFingerprint(String),
    #[error("invalid network configuration: {0}")]
    Config(String),
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("certificate or key file {path}: {why}")]
    CertificateFile { path: PathBuf, why: String },
    #[error(
        "the server's certificate has fingerprint {found}, but {expected} is pinned: this is \
         not the server you pinned (or its certificate changed); check the address, or pin \
         the new fingerprint if the change is expected"
    )]
    FingerprintMismatch { expected: String, found: String },
    #[error("the server's certificate (fingerprint {found}) is not trusted by {ca_file}: {why}")]
    UntrustedCertificate {
        ca_file: PathBuf,
        found: String,
        why: String,
    },
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("the connection failed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the server refused ({kind}): {message}")]
    Refused {
        kind: RefusalKind,
        /// The table a forbidden write named.
        table: Option<String>,
        message: String,
    },
    #[error("the peer broke the sync protocol: {0}")]
    Protocol(String),
    #[error(
        "the peer speaks sync protocol {found}; this build speaks {supported}: upgrade \
         HeliosDB Nano on the older side"
    )]
    Version { found: u16, supported: u16 },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("a message of {bytes} bytes is over the {max}-byte limit")]
    TooLarge { bytes: u64, max: u64 },
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the stream failed: {0}")]
    Stream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<quinn::ReadExactError> for NetError {
    fn from(e: quinn::ReadExactError) -> Self {
        match e {
            quinn::ReadExactError::FinishedEarly(got) => NetError::Protocol(format!(
                "the stream ended in the middle of a message ({got} bytes of it arrived)"
            )),
            quinn::ReadExactError::ReadError(e) => e.into(),
        }
    }
}

impl From<quinn::ReadError> for NetError {
    fn from(e: quinn::ReadError) -> Self {
        match e {
            quinn::ReadError::ConnectionLost(e) => NetError::Connection(e),
            other => NetError::Stream(other.to_string()),
        }
    }
}

impl From<quinn::WriteError> for NetError {
    fn from(e: quinn::WriteError) -> Self {
        match e {
            quinn::WriteError::ConnectionLost(e) => NetError::Connection(e),
            other => NetError::Stream(other.to_string()),
        }
    }
}

impl From<quinn::ClosedStream> for NetError {
    fn from(e: quinn::ClosedStream) -> Self {
        NetError::Stream(e.to_string())
    }
}

impl From<tokio::task::JoinError> for NetError {
    fn from(e: tokio::task::JoinError) -> Self {
        NetError::Internal(format!("a database task failed: {e}"))
    }
}

/// Runs `f` on the node from Tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, NetError>
where
    F: FnOnce() -> Result<T, NetError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

/// `future`, or a timeout error naming `what`.
async fn within<T, F>(limit: Duration, what: &str, future: F) -> Result<T, NetError>
where
    F: std::future::Future<Output = Result<T, NetError>>,
{
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| NetError::Timeout(format!("{what} (more than {limit:?})")))?
}

/// Row changes in one batch at most (unless one commit has more): with the frame bound,
/// what keeps a large initial sync in bounded memory on both sides.
pub const BATCH_CHANGES_MAX: usize = 10_000;

/// Up to `commits_max` commits (and about [`BATCH_CHANGES_MAX`] row changes) that a peer
/// at `peer` lacks, passed through `adjust`, as one
/// record of at most `frame_max` frame bytes (fewer commits if need be), with the number
/// of commits; `None` when the peer lacks nothing.
pub(crate) fn batch_within(
    node: &crate::SyncNode,
    peer: &crate::VersionVector,
    commits_max: usize,
    frame_max: u32,
    adjust: impl Fn(&mut crate::wire::ChangeBatch),
) -> Result<Option<(Vec<u8>, usize)>, NetError> {
    let mut count = commits_max.max(1);
    loop {
        let mut batch = node.changes_for_within(peer, count, BATCH_CHANGES_MAX)?;
        let commits = batch.commits.len();
        if commits == 0 {
            return Ok(None);
        }
        adjust(&mut batch);
        let record = proto::encode_wire_record(&crate::wire::Message::Changes(batch));
        let bytes = match record {
            Ok(record) if record.len() - 1 <= frame_max as usize => {
                return Ok(Some((record, commits)));
            }
            Ok(record) => (record.len() - 1) as u64,
            Err(NetError::Wire(WireError::TooLarge { bytes, .. })) => bytes,
            Err(e) => return Err(e),
        };
        if commits == 1 {
            return Err(NetError::TooLarge {
                bytes,
                max: u64::from(frame_max),
            });
        }
        count = commits / 2;
    }
}

/// Follows the database's commits: a thread (the database's notices come on a blocking
/// channel) moves the value on every commit that changed something. It ends with the
/// database's notice channel, or at the first commit after every receiver is gone.
pub(crate) fn commit_feed(
    node: &crate::SyncNode,
) -> Result<tokio::sync::watch::Receiver<u64>, NetError> {
    let notices = node.database().subscribe();
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    std::thread::Builder::new()
        .name("heliosdb-sync-commits".into())
        .spawn(move || {
            for notice in notices {
                if tx.send(notice.commit_seq).is_err() {
                    break;
                }
            }
        })
        .map_err(NetError::Io)?;
    Ok(rx)
}
