//! The sync protocol over QUIC, version 1.
//!
//! # Connection
//!
//! QUIC with TLS 1.3, ALPN [`ALPN`] (`heliosdb-sync/1`). One sync is one bidirectional
//! stream, opened by the client; a connection may carry several (at most
//! [`Limits::streams_per_connection`](super::Limits) at once). Connections are closed with
//! the application codes of [`close`](super::close).
//!
//! # Frames
//!
//! All integers are little-endian.
//!
//! A *control frame* carries a small postcard value:
//!
//! | bytes   | field                                                       |
//! |---------|-------------------------------------------------------------|
//! | 0..4    | `u32` length `n` of what follows (2..=[`CONTROL_BYTES_MAX`]) |
//! | 4..6    | `u16` protocol version, [`PROTOCOL_VERSION`] (1)            |
//! | 6..4+n  | postcard of the value                                       |
//!
//! The version is outside the postcard body so that a peer of another version is told so
//! rather than that its bytes do not decode. The length is checked against the bound
//! before anything is allocated.
//!
//! A *sync frame* is a [`wire`](crate::wire) frame (magic `HSYN`, its own version and
//! checksum), at most [`Limits::frame_bytes_max`](super::Limits) bytes (the receiver's;
//! each side tells the other its bound, see below). After authentication each unit on the
//! stream is a *record*: a `u8` kind, then a sync frame (kind [`KIND_WIRE`] = 1) or a
//! control frame holding a [`Control`] (kind [`KIND_CONTROL`] = 2).
//!
//! # Exchange
//!
//! 1. Client → server: control frame [`AuthRequest`] (the biscuit token, base64).
//! 2. Server → client: control frame [`AuthReply`]. The token is verified before anything
//!    else is read: on `Refused` the server finishes the stream and closes the connection
//!    ([`close::UNAUTHORIZED`](super::close::UNAUTHORIZED)). `Accepted` names the server's
//!    node and its frame and batch bounds; the client sends within the smaller of those
//!    and its own.
//! 3. Client → server: `Hello { node, frontier }`.
//! 4. Rounds, each in two phases:
//!    - *Pull*: while the client lacks commits the server has, the server sends
//!      `Changes` (at most the batch bound of commits, split further to fit the frame
//!      bound), and the client applies it and answers `Ack { node, frontier }`. The
//!      server stops when nothing is left, or when an `Ack` shows no progress (the client
//!      cannot apply what it got yet, e.g. rows waiting for a table's schema). The server
//!      then sends its `Hello { node, frontier }`.
//!    - *Push*: the same the other way: the client sends `Changes` of what the server
//!      lacks, the server applies each batch and answers `Ack`, and the client ends the
//!      phase with its `Hello`. The server may instead answer a batch with the control
//!      `Refused`; it applied nothing of that batch, and closes the connection.
//!
//!    Both sides record the other's `Ack`/`Hello` frontiers ([`crate::SyncNode::record_ack`]).
//!    If a round moved anything (a batch advanced a frontier), the server starts another
//!    (changes may have arrived from other clients meanwhile), up to [`ROUNDS_MAX`];
//!    otherwise it sends the control `Done` and finishes the stream, and the client
//!    closes the connection ([`close::DONE`](super::close::DONE)).
//!
//! Each batch is applied atomically and frontiers only say what is applied, so a sync cut
//! anywhere resumes from what was applied: nothing is applied twice, nothing is lost.
//!
//! # Watch streams (the background mode)
//!
//! A client that stays connected opens one more bidirectional stream and, after
//! authenticating on it as above, sends the control `Watch` instead of `Hello`. The server
//! then sends the control `Poke` on that stream whenever its database commits something
//! (pokes coalesce: one may stand for many commits), and nothing else; the client answers
//! each by syncing on a new stream, and also syncs whenever its own database commits. The
//! client ends the watch by finishing the stream or closing the connection; the server
//! ends it with a `Refused` when the token expires.
//!
//! # Authorization
//!
//! The token's [`Grant`](crate::auth::Grant) decides, per table:
//! - *Push*: a batch with any row or schema change of a table the client may not write is
//!   refused whole ([`RefusalKind::Forbidden`], naming the table). A rename needs the
//!   right on both names; a database-wide change (empty table name) needs it on `*`.
//! - *Pull*: row and schema changes of tables the client may not read are removed from the
//!   commits sent to it (with the same rule for renames and database-wide changes). The
//!   commits themselves are still sent, with their dots, so frontiers advance: **a filtered
//!   client never receives those rows**, not even if it is later given the right (its
//!   frontier says it has those commits), and it relays the filtered commits as it has
//!   them. Give a node its read rights before its first sync.

use heliosdb_core::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::NetError;
use crate::wire::{self, Message};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The TLS application protocol (ALPN) of sync over QUIC.
pub const ALPN: &[u8] = b"heliosdb-sync/1";

/// The largest control frame body (version and postcard), tokens included.
pub const CONTROL_BYTES_MAX: u32 = 72 * 1024;

/// Record kind: a sync frame follows.
pub const KIND_WIRE: u8 = 1;
/// Record kind: a control frame follows.
pub const KIND_CONTROL: u8 = 2;

/// Rounds in one sync at most (a peer written to without pause could otherwise keep a
/// sync going for ever).
pub const ROUNDS_MAX: u32 = 16;

/// The client's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub token: String,
}

/// The server's answer to [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthReply {
    Accepted {
        server: NodeId,
        frame_bytes_max: u32,
        batch_commits_max: u32,
    },
    Refused(Refusal),
}

/// Control records after authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// The sync is complete.
    Done,
    /// The server refuses; it closes the connection next.
    Refused(Refusal),
    /// Client → server, instead of `Hello`: make this a watch stream (see the module doc).
    Watch,
    /// Server → client on a watch stream: the server's database has committed since the
    /// last poke; sync to get it.
    Poke,
}

/// Why a peer refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// A [`RefusalKind`] code.
    pub code: u16,
    /// The table concerned, for [`RefusalKind::Forbidden`].
    pub table: Option<String>,
    pub message: String,
}

/// The kinds of [`Refusal`], with their codes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// 1: the token has expired.
    TokenExpired,
    /// 2: the token was signed by another root key.
    WrongRootKey,
    /// 3: the token's signature does not verify.
    TokenTampered,
    /// 4: the token does not parse.
    TokenGarbled,
    /// 5: the token is valid but does not allow syncing.
    TokenDenied,
    /// 10: a pushed batch touches a table the token may not write.
    Forbidden,
    /// 11: a batch over the limits.
    TooLarge,
    /// 12: the batch cannot be applied (e.g. a commit stamped far in the future).
    Invalid,
    /// 13: the server failed.
    Internal,
    /// A code this build does not know.
    Other(u16),
}

impl RefusalKind {
    pub fn code(self) -> u16 {
        match self {
            RefusalKind::TokenExpired => 1,
            RefusalKind::WrongRootKey => 2,
            RefusalKind::TokenTampered => 3,
            RefusalKind::TokenGarbled => 4,
            RefusalKind::TokenDenied => 5,
            RefusalKind::Forbidden => 10,
            RefusalKind::TooLarge => 11,
            RefusalKind::Invalid => 12,
            RefusalKind::Internal => 13,
            RefusalKind::Other(code) => code,
        }
    }

    pub fn from_code(code: u16) -> RefusalKind {
        match code {
            1 => RefusalKind::TokenExpired,
            2 => RefusalKind::WrongRootKey,
            3 => RefusalKind::TokenTampered,
            4 => RefusalKind::TokenGarbled,
            5 => RefusalKind::TokenDenied,
            10 => RefusalKind::Forbidden,
            11 => RefusalKind::TooLarge,
            12 => RefusalKind::Invalid,
            13 => RefusalKind::Internal,
            other => RefusalKind::Other(other),
        }
    }

    /// The connection close code that goes with the refusal.
    pub fn close_code(self) -> u32 {
        use super::close;
        match self {
            RefusalKind::TokenExpired
            | RefusalKind::WrongRootKey
            | RefusalKind::TokenTampered
            | RefusalKind::TokenGarbled
            | RefusalKind::TokenDenied => close::UNAUTHORIZED,
            RefusalKind::Forbidden => close::FORBIDDEN,
            RefusalKind::TooLarge => close::TOO_LARGE,
            RefusalKind::Invalid | RefusalKind::Other(_) => close::REFUSED,
            RefusalKind::Internal => close::INTERNAL,
        }
    }
}

impl std::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefusalKind::TokenExpired => f.write_str("token expired"),
            RefusalKind::WrongRootKey => f.write_str("token of another server"),
            RefusalKind::TokenTampered => f.write_str("token tampered with"),
            RefusalKind::TokenGarbled => f.write_str("not a token"),
            RefusalKind::TokenDenied => f.write_str("token denied"),
            RefusalKind::Forbidden => f.write_str("forbidden"),
            RefusalKind::TooLarge => f.write_str("too large"),
            RefusalKind::Invalid => f.write_str("invalid batch"),
            RefusalKind::Internal => f.write_str("server error"),
            RefusalKind::Other(code) => write!(f, "code {code}"),
        }
    }
}

impl Refusal {
    pub fn new(kind: RefusalKind, table: Option<String>, message: impl Into<String>) -> Self {
        Refusal {
            code: kind.code(),
            table,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> RefusalKind {
        RefusalKind::from_code(self.code)
    }

    /// The client's error for it.
    pub fn into_error(self) -> NetError {
        NetError::Refused {
            kind: self.kind(),
            table: self.table,
            message: self.message,
        }
    }
}

/// The bytes of a control frame holding `value`.
pub fn encode_control<T: Serialize>(value: &T) -> Result<Vec<u8>, NetError> {
    let body = postcard::to_stdvec(value)
        .map_err(|e| NetError::Internal(format!("cannot encode a control frame: {e}")))?;
    let len = body.len() + 2;
    if len > CONTROL_BYTES_MAX as usize {
        return Err(NetError::TooLarge {
            bytes: len as u64,
            max: u64::from(CONTROL_BYTES_MAX),
        });
    }
    let mut frame = Vec::with_capacity(4 + len);
    frame.extend_from_slice(&(len as u32).to_le_bytes());
    frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Decodes a control frame's body (after the length), checking its version.
pub fn decode_control<T: DeserializeOwned>(body: &[u8]) -> Result<T, NetError> {
    let Some((version, rest)) = body.split_first_chunk::<2>() else {
        return Err(NetError::Protocol(format!(
            "a control frame of {} bytes has no version",
            body.len()
        )));
    };
    match u16::from_le_bytes(*version) {
        PROTOCOL_VERSION => {}
        found => {
            return Err(NetError::Version {
                found,
                supported: PROTOCOL_VERSION,
            });
        }
    }
    let (value, left) = postcard::take_from_bytes::<T>(rest)
        .map_err(|e| NetError::Protocol(format!("a control frame does not decode ({e})")))?;
    if !left.is_empty() {
        return Err(NetError::Protocol(format!(
            "{} bytes left over after a control frame",
            left.len()
        )));
    }
    Ok(value)
}

/// The bytes of a record holding a sync frame.
pub fn encode_wire_record(message: &Message) -> Result<Vec<u8>, NetError> {
    let frame = wire::encode(message)?;
    let mut record = Vec::with_capacity(1 + frame.len());
    record.push(KIND_WIRE);
    record.extend_from_slice(&frame);
    Ok(record)
}

/// The bytes of a record holding a control frame.
pub fn encode_control_record(control: &Control) -> Result<Vec<u8>, NetError> {
    let frame = encode_control(control)?;
    let mut record = Vec::with_capacity(1 + frame.len());
    record.push(KIND_CONTROL);
    record.extend_from_slice(&frame);
    Ok(record)
}

/// One record received.
#[derive(Debug)]
pub enum Record {
    Wire(Message),
    Control(Control),
}

/// Reads records from a QUIC stream within bounds, counting the bytes read.
pub struct Reader {
    recv: quinn::RecvStream,
    frame_bytes_max: u32,
    pub bytes: u64,
}

impl Reader {
    pub fn new(recv: quinn::RecvStream, frame_bytes_max: u32) -> Self {
        Reader {
            recv,
            frame_bytes_max,
            bytes: 0,
        }
    }

    async fn exact(&mut self, buf: &mut [u8]) -> Result<(), NetError> {
        self.recv.read_exact(buf).await?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    /// A control frame holding a `T`.
    pub async fn control<T: DeserializeOwned>(&mut self) -> Result<T, NetError> {
        let mut len = [0; 4];
        self.exact(&mut len).await?;
        let len = u32::from_le_bytes(len);
        if len > CONTROL_BYTES_MAX {
            return Err(NetError::TooLarge {
                bytes: u64::from(len),
                max: u64::from(CONTROL_BYTES_MAX),
            });
        }
        let mut body = vec![0; len as usize];
        self.exact(&mut body).await?;
        decode_control(&body)
    }

    /// The next record.
    pub async fn record(&mut self) -> Result<Record, NetError> {
        let mut kind = [0; 1];
        self.exact(&mut kind).await?;
        match kind[0] {
            KIND_WIRE => self.wire().await.map(Record::Wire),
            KIND_CONTROL => self.control().await.map(Record::Control),
            other => Err(NetError::Protocol(format!("unknown record kind {other}"))),
        }
    }

    async fn wire(&mut self) -> Result<Message, NetError> {
        let mut frame = vec![0; wire::FRAME_HEADER_BYTES];
        self.exact(&mut frame).await?;
        let len = wire::frame_len(&frame)?
            .ok_or_else(|| NetError::Internal("a whole header did not parse".into()))?;
        if len > self.frame_bytes_max as usize {
            return Err(NetError::TooLarge {
                bytes: len as u64,
                max: u64::from(self.frame_bytes_max),
            });
        }
        frame.resize(len, 0);
        self.exact(&mut frame[wire::FRAME_HEADER_BYTES..]).await?;
        Ok(wire::decode(&frame)?)
    }
}

/// Writes to a QUIC stream, counting the bytes written.
pub struct Writer {
    pub send: quinn::SendStream,
    pub bytes: u64,
}

impl Writer {
    pub fn new(send: quinn::SendStream) -> Self {
        Writer { send, bytes: 0 }
    }

    pub async fn raw(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        self.send.write_all(bytes).await?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    pub async fn control<T: Serialize>(&mut self, value: &T) -> Result<(), NetError> {
        self.raw(&encode_control(value)?).await
    }

    pub async fn record(&mut self, control: &Control) -> Result<(), NetError> {
        self.raw(&encode_control_record(control)?).await
    }

    pub async fn message(&mut self, message: &Message) -> Result<(), NetError> {
        self.raw(&encode_wire_record(message)?).await
    }

    /// Finishes the stream and waits (at most `limit`) for the peer to have read it all.
    pub async fn finish(&mut self, limit: std::time::Duration) {
        if self.send.finish().is_ok() {
            let _ = tokio::time::timeout(limit, self.send.stopped()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_frames_round_trip_and_check_their_version() {
        let request = AuthRequest {
            token: "abc".into(),
        };
        let frame = encode_control(&request).unwrap();
        assert_eq!(
            u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        assert_eq!(&frame[4..6], &PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(decode_control::<AuthRequest>(&frame[4..]).unwrap(), request);
        let mut newer = frame.clone();
        newer[4..6].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(
            decode_control::<AuthRequest>(&newer[4..]),
            Err(NetError::Version {
                found: 2,
                supported: 1
            })
        ));
        let mut trailing = frame[4..].to_vec();
        trailing.push(0);
        assert!(matches!(
            decode_control::<AuthRequest>(&trailing),
            Err(NetError::Protocol(_))
        ));
        assert!(matches!(
            decode_control::<AuthRequest>(&[1]),
            Err(NetError::Protocol(_))
        ));
    }

    #[test]
    fn oversize_control_frames_are_not_encoded() {
        let request = AuthRequest {
            token: "x".repeat(CONTROL_BYTES_MAX as usize),
        };
        assert!(matches!(
            encode_control(&request),
            Err(NetError::TooLarge { .. })
        ));
    }

    #[test]
    fn refusal_codes_round_trip() {
        for kind in [
            RefusalKind::TokenExpired,
            RefusalKind::WrongRootKey,
            RefusalKind::TokenTampered,
            RefusalKind::TokenGarbled,
            RefusalKind::TokenDenied,
            RefusalKind::Forbidden,
            RefusalKind::TooLarge,
            RefusalKind::Invalid,
            RefusalKind::Internal,
            RefusalKind::Other(999),
        ] {
            assert_eq!(RefusalKind::from_code(kind.code()), kind);
        }
    }
}
