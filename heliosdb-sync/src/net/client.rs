//! The sync client: one [`SyncNode`] syncing with a server over QUIC.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::proto::{AuthReply, AuthRequest, Control, Reader, Record, Writer};
use super::server::close_code_for;
use super::tls::{self, Trust};
use super::{Limits, NetError, batch_within, blocking, close, within};
use crate::node::SyncNode;
use crate::wire::Message;
use heliosdb_core::NodeId;

/// A sync server's address, parsed from `quic://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// A DNS name, or an IP address (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
}

impl ServerUrl {
    /// Parses `quic://host:port` and nothing else: no user, path, query or fragment; the
    /// host a DNS name, an IPv4 address or a bracketed IPv6 address; the port 1–65535.
    pub fn parse(url: &str) -> Result<ServerUrl, NetError> {
        let bad = |why: &str| NetError::BadUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let rest = url
            .strip_prefix("quic://")
            .ok_or_else(|| bad("it does not start with quic://"))?;
        if let Some(c) = rest
            .chars()
            .find(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
        {
            return Err(bad(&format!(
                "{c:?} is not allowed: give only the host and port"
            )));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address is missing its closing ]"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("the port is missing"))?;
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("the part in [] is not an IPv6 address"))?;
            (addr, port)
        } else {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("the port is missing"))?;
            if host.contains(':') {
                return Err(bad("an IPv6 address must be in brackets, as [::1]"));
            }
            if host.parse::<std::net::Ipv4Addr>().is_err() && !is_dns_name(host) {
                return Err(bad("the host is not a DNS name or an IP address"));
            }
            (host, port)
        };
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("the port is not a number"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be between 1 and 65535"))?;
        Ok(ServerUrl {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "quic://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "quic://{}:{}", self.host, self.port)
        }
    }
}

fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        // An all-numeric name is a mistyped IPv4 address, not a host.
        && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// What a client needs to sync.
#[derive(Clone)]
pub struct SyncConfig {
    /// `quic://host:port`.
    pub server: String,
    /// The biscuit token, base64.
    pub token: String,
    pub trust: Trust,
    pub node: Arc<SyncNode>,
    /// The client's own bounds (frames and batches it accepts, timeouts).
    pub limits: Limits,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("server", &self.server)
            .field("trust", &self.trust)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl SyncConfig {
    /// A configuration with the default [`Limits`].
    pub fn new(
        server: impl Into<String>,
        token: impl Into<String>,
        trust: Trust,
        node: Arc<SyncNode>,
    ) -> SyncConfig {
        SyncConfig {
            server: server.into(),
            token: token.into(),
            trust,
            node,
            limits: Limits::default(),
        }
    }
}

/// What one [`SyncClient::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Commits pushed to the server.
    pub sent_commits: u64,
    /// Commits received and applied here.
    pub received_commits: u64,
    /// Conflicts resolved here while applying.
    pub conflicts: u64,
    /// Bytes of the sync's stream (records), each way.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Bytes of every UDP datagram of the connection, each way: QUIC, TLS handshake and
    /// acknowledgements included (0 from the background mode, which shares a connection).
    pub udp_bytes_sent: u64,
    pub udp_bytes_received: u64,
    /// From connecting until the last record was read.
    pub duration: Duration,
    /// Rounds of pull and push.
    pub rounds: u32,
    /// Some commits could not be applied yet (they wait for a table's schema or an earlier
    /// commit from elsewhere), or the round limit was reached: sync again later.
    pub incomplete: bool,
}

/// Syncs one node with one server.
pub struct SyncClient {
    config: SyncConfig,
    url: ServerUrl,
    progress: Option<Progress>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("config", &self.config)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Called with the report so far after each batch applied or sent.
pub type Progress = Arc<dyn Fn(&SyncReport) + Send + Sync>;

impl SyncClient {
    /// Checks the configuration: the URL, the pin or CA file, the limits.
    pub fn new(config: SyncConfig) -> Result<SyncClient, NetError> {
        let url = ServerUrl::parse(&config.server)?;
        config.limits.check()?;
        tls::client_config(&config.trust, &config.limits)?;
        Ok(SyncClient {
            config,
            url,
            progress: None,
        })
    }

    /// Calls `progress` with the report so far after each batch (for a long initial sync).
    pub fn with_progress(mut self, progress: Progress) -> SyncClient {
        self.progress = Some(progress);
        self
    }

    fn progressed(&self, report: &SyncReport) {
        if let Some(progress) = &self.progress {
            progress(report);
        }
    }

    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// The node this client syncs.
    pub fn node(&self) -> &SyncNode {
        &self.config.node
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// A QUIC connection to the server, verified by the configured [`Trust`], and the
    /// endpoint it lives on (keep both; close the connection, then `wait_idle` the
    /// endpoint). For tools and tests; [`sync`](Self::sync) does everything itself.
    pub async fn connect(&self) -> Result<(quinn::Endpoint, quinn::Connection), NetError> {
        let addr = self.resolve().await?;
        let bind: SocketAddr = if addr.is_ipv6() {
            (IpAddr::from([0u16; 8]), 0).into()
        } else {
            (IpAddr::from([0u8; 4]), 0).into()
        };
        let endpoint = quinn::Endpoint::client(bind)?;
        let (config, rejection) = tls::client_config(&self.config.trust, &self.config.limits)?;
        let connecting = endpoint.connect_with(config, addr, &self.url.host)?;
        let handshake = within(
            self.config.limits.handshake_timeout,
            "the server's handshake",
            async { connecting.await.map_err(NetError::from) },
        )
        .await;
        match handshake {
            Ok(conn) => Ok((endpoint, conn)),
            // The verifier's reason is more useful than the TLS alert it turned into.
            Err(e) => Err(rejection.take().unwrap_or(e)),
        }
    }

    async fn resolve(&self) -> Result<SocketAddr, NetError> {
        let host = self.url.host.as_str();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok((ip, self.url.port).into());
        }
        let resolve = |source| NetError::Resolve {
            host: host.to_owned(),
            source,
        };
        tokio::net::lookup_host((host, self.url.port))
            .await
            .map_err(resolve)?
            .next()
            .ok_or_else(|| {
                resolve(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no address found",
                ))
            })
    }

    /// Syncs both ways until neither side has anything the other lacks (or the round limit).
    pub async fn sync(&self) -> Result<SyncReport, NetError> {
        let start = Instant::now();
        let (endpoint, conn) = self.connect().await?;
        let mut report = SyncReport::default();
        let result = self.exchange(&conn, &mut report).await;
        // Done once the last record is read; closing is courtesy.
        report.duration = start.elapsed();
        match &result {
            Ok(()) => conn.close(quinn::VarInt::from_u32(close::DONE), b"done"),
            Err(e) => {
                let reason: String = e.to_string().chars().take(200).collect();
                conn.close(
                    quinn::VarInt::from_u32(close_code_for(e)),
                    reason.as_bytes(),
                );
            }
        }
        let stats = conn.stats();
        report.udp_bytes_sent = stats.udp_tx.bytes;
        report.udp_bytes_received = stats.udp_rx.bytes;
        // Lets the close reach the server; short on any sane path.
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        result?;
        Ok(report)
    }

    /// A connection kept open for several syncs (as the background mode keeps one): no
    /// handshake per sync.
    pub async fn session(&self) -> Result<Session<'_>, NetError> {
        let (endpoint, conn) = self.connect().await?;
        Ok(Session {
            client: self,
            endpoint,
            conn,
        })
    }

    pub(crate) async fn exchange(
        &self,
        conn: &quinn::Connection,
        report: &mut SyncReport,
    ) -> Result<(), NetError> {
        let limits = &self.config.limits;
        let (send, recv) = conn.open_bi().await?;
        let mut w = Writer::new(send);
        let mut r = Reader::new(recv, limits.frame_bytes_max);
        let result = self.run(&mut w, &mut r, report).await;
        report.bytes_sent = w.bytes;
        report.bytes_received = r.bytes;
        if result.is_ok() {
            let _ = w.send.finish();
        }
        result
    }

    /// Sends the token and reads the server's answer: the server's node id and the frame
    /// and batch bounds to send within.
    pub(crate) async fn authenticate(
        &self,
        w: &mut Writer,
        r: &mut Reader,
    ) -> Result<(NodeId, u32, usize), NetError> {
        let limits = &self.config.limits;
        let wait = limits.message_timeout;
        w.control(&AuthRequest {
            token: self.config.token.clone(),
        })
        .await?;
        let reply: AuthReply = within(
            limits.auth_timeout.max(wait),
            "the server's answer to the token",
            r.control(),
        )
        .await?;
        let accepted = match reply {
            AuthReply::Accepted {
                server,
                frame_bytes_max,
                batch_commits_max,
            } => (
                server,
                frame_bytes_max.min(limits.frame_bytes_max),
                batch_commits_max.min(limits.batch_commits_max) as usize,
            ),
            AuthReply::Refused(refusal) => return Err(refusal.into_error()),
        };
        Ok(accepted)
    }

    async fn run(
        &self,
        w: &mut Writer,
        r: &mut Reader,
        report: &mut SyncReport,
    ) -> Result<(), NetError> {
        let limits = &self.config.limits;
        let wait = limits.message_timeout;
        let (server, frame_max, batch_max) = self.authenticate(w, r).await?;
        let node = &self.config.node;
        let me = node.node_id();
        if server == me {
            return Err(NetError::Protocol(
                "the server has this node's id (a copied database?)".into(),
            ));
        }
        let n = node.clone();
        let frontier = blocking(move || Ok(n.frontier()?)).await?;
        w.message(&Message::Hello { node: me, frontier }).await?;

        let mut exchanged_last_round = false;
        loop {
            let mut exchanged = false;
            // Pull: apply what the server sends until its Hello (or Done).
            let mut server_frontier = loop {
                match within(wait, "the server's changes", r.record()).await? {
                    Record::Wire(Message::Changes(batch)) => {
                        if batch.commits.len() > limits.batch_commits_max as usize {
                            return Err(NetError::TooLarge {
                                bytes: batch.commits.len() as u64,
                                max: u64::from(limits.batch_commits_max),
                            });
                        }
                        exchanged = true;
                        let n = node.clone();
                        let (applied, frontier) = blocking(move || {
                            let applied = n.apply(&batch)?;
                            Ok((applied, n.frontier()?))
                        })
                        .await?;
                        report.received_commits += applied.applied;
                        self.progressed(report);
                        report.conflicts += applied.conflicts;
                        w.message(&Message::Ack { node: me, frontier }).await?;
                    }
                    Record::Wire(Message::Hello {
                        node: from,
                        frontier,
                    }) if from == server => {
                        break frontier;
                    }
                    Record::Control(Control::Done) => {
                        report.incomplete = exchanged_last_round;
                        return Ok(());
                    }
                    Record::Control(Control::Refused(refusal)) => {
                        return Err(refusal.into_error());
                    }
                    other => {
                        return Err(NetError::Protocol(format!(
                            "expected the server's Changes, Hello or Done, got {other:?}"
                        )));
                    }
                }
            };
            report.rounds += 1;
            let (n, f) = (node.clone(), server_frontier.clone());
            blocking(move || Ok(n.record_ack(server, &f)?)).await?;

            // Push: what the server lacks, until it has it all or stops taking it.
            loop {
                let (n, peer) = (node.clone(), server_frontier.clone());
                let batch =
                    blocking(move || batch_within(&n, &peer, batch_max, frame_max, |_| {})).await?;
                let Some((record, commits)) = batch else {
                    break;
                };
                exchanged = true;
                w.raw(&record).await?;
                report.sent_commits += commits as u64;
                self.progressed(report);
                let frontier = match within(wait, "the server's Ack", r.record()).await? {
                    Record::Wire(Message::Ack {
                        node: from,
                        frontier,
                    }) if from == server => frontier,
                    Record::Control(Control::Refused(refusal)) => {
                        return Err(refusal.into_error());
                    }
                    other => {
                        return Err(NetError::Protocol(format!(
                            "expected the server's Ack, got {other:?}"
                        )));
                    }
                };
                let progressed = !server_frontier.dominates(&frontier);
                server_frontier.merge(&frontier);
                let (n, f) = (node.clone(), frontier);
                blocking(move || Ok(n.record_ack(server, &f)?)).await?;
                if !progressed {
                    break;
                }
            }
            let n = node.clone();
            let frontier = blocking(move || Ok(n.frontier()?)).await?;
            w.message(&Message::Hello { node: me, frontier }).await?;
            exchanged_last_round = exchanged;
        }
    }
}

/// A connection to the server for several syncs; see [`SyncClient::session`].
pub struct Session<'c> {
    client: &'c SyncClient,
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
}

impl Session<'_> {
    /// One sync on this connection. The report's UDP bytes are those of this sync alone.
    pub async fn sync(&self) -> Result<SyncReport, NetError> {
        let before = self.conn.stats();
        let start = Instant::now();
        let mut report = SyncReport::default();
        self.client.exchange(&self.conn, &mut report).await?;
        report.duration = start.elapsed();
        let after = self.conn.stats();
        report.udp_bytes_sent = after.udp_tx.bytes.saturating_sub(before.udp_tx.bytes);
        report.udp_bytes_received = after.udp_rx.bytes.saturating_sub(before.udp_rx.bytes);
        Ok(report)
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.conn
            .close(quinn::VarInt::from_u32(close::DONE), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_strictly() {
        assert_eq!(
            ServerUrl::parse("quic://sync.example.com:4433").unwrap(),
            ServerUrl {
                host: "sync.example.com".into(),
                port: 4433
            }
        );
        assert_eq!(
            ServerUrl::parse("quic://127.0.0.1:1").unwrap().host,
            "127.0.0.1"
        );
        let v6 = ServerUrl::parse("quic://[::1]:65535").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 65535));
        assert_eq!(v6.to_string(), "quic://[::1]:65535");
        for bad in [
            "",
            "sync.example.com:4433",
            "https://sync.example.com:4433",
            "quic://sync.example.com",
            "quic://sync.example.com:",
            "quic://sync.example.com:0",
            "quic://sync.example.com:65536",
            "quic://sync.example.com:+44",
            "quic://sync.example.com:4433/",
            "quic://sync.example.com:4433/path",
            "quic://user@sync.example.com:4433",
            "quic://sync.example.com:4433?x=1",
            "quic://::1:4433",
            "quic://[::1:4433",
            "quic://[nope]:4433",
            "quic://bad_host:4433",
            "quic://-bad.com:4433",
            "quic://999.1.1.1:4433",
            "quic://:4433",
            "quic://a b:4433",
        ] {
            assert!(
                matches!(ServerUrl::parse(bad), Err(NetError::BadUrl { .. })),
                "{bad:?} parsed"
            );
        }
    }
}
