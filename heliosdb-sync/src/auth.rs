//! Sync tokens: [biscuit](https://www.biscuitsec.org) tokens signed by a server's root key
//! (ed25519), saying which tables the holder may read and write, until when, and
//! optionally for which device.
//!
//! - The server keeps a [`RootKey`] in a file ([`RootKey::save`], [`RootKey::load`]) and
//!   [`issue`]s tokens from a [`TokenSpec`].
//! - A holder can [`attenuate`] its token offline — fewer tables, a shorter life — without
//!   any key: biscuit appends a signed block of checks, and blocks can only restrict.
//! - The server [`verify`]s a token against its root public key and gets a [`Grant`],
//!   which answers per table whether the holder may read or write it.
//!
//! # What a token holds
//!
//! The authority block (signed by the root key, whose [`key_id`] is the token's root key id):
//!
//! ```text
//! right("notes", "read"); right("notes", "write"); right("*", "read");  // "*": every table
//! device("laptop-7");                                                  // optional
//! expires(2026-11-02T10:00:00Z);
//! check if time($t), $t < 2026-11-02T10:00:00Z;
//! ```
//!
//! An attenuation block adds checks only (and an informational `expires` fact):
//!
//! ```text
//! check if operation("connect") or operation("write") or operation("read"), resource("notes");
//! expires(2026-11-01T11:00:00Z);
//! check if time($t), $t < 2026-11-01T11:00:00Z;
//! ```
//!
//! Rights facts count only in the authority block: the authorizer's policies do not trust
//! facts from later blocks, so an attenuation cannot grant anything.
//!
//! Verifying authorizes `operation("connect")` at the given time (which every table
//! restriction lets through, so only expiry or foreign checks fail it); each table right is
//! then one more authorization, `resource(table), operation("read" | "write")` against
//! `allow if right($t, $op), resource($t), operation($op); allow if right("*", $op), …`,
//! run on first use and cached in the [`Grant`].
//!
//! # Root key file, format 1
//!
//! Text, two lines: [`ROOT_KEY_FILE_HEADER`], then the private key as biscuit writes it
//! (`ed25519-private/` and 64 hex digits). A bare 64-digit hex key is read as ed25519 too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use biscuit_auth::builder::{Algorithm, BlockBuilder, Term};
use biscuit_auth::error::{Format as FormatError, Token as TokenError};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, KeyPair, PrivateKey};

pub use biscuit_auth::PublicKey;

/// The first line of a root key file; the number is the file format.
pub const ROOT_KEY_FILE_HEADER: &str = "heliosdb-sync root key v1";
const ROOT_KEY_FILE_PREFIX: &str = "heliosdb-sync root key v";
const ROOT_KEY_FILE_FORMAT: u32 = 1;

/// The table name that stands for every table in a right.
pub const ALL_TABLES: &str = "*";

/// The latest expiry a token may have: 9999-12-31T23:59:59Z.
const DATE_SECS_MAX: u64 = 253_402_300_799;

/// Tokens longer than this are refused before being parsed.
pub const TOKEN_BYTES_MAX: usize = 64 * 1024;

/// Why a key, a token or a right was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error(
        "root key file {path} is unusable: {why}; restore it from a backup, or generate a new \
         root key (every token issued with the old one then stops working)"
    )]
    KeyFile { path: PathBuf, why: String },
    #[error("root key file {path}: {source}")]
    KeyIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("root key file {0} exists already; load it, or move it away first to replace the key")]
    KeyFileExists(PathBuf),
    #[error(
        "the token expired at {} (unix time; now is {}): ask for a new token",
        unix_secs(*.expired_at),
        unix_secs(*.now)
    )]
    Expired {
        expired_at: SystemTime,
        now: SystemTime,
    },
    #[error(
        "the token was signed by another root key (key id {}), not this server's (key id \
         {server_key_id:#010x}): use a token issued by this server",
        .token_key_id.map_or("none".to_owned(), |id| format!("{id:#010x}"))
    )]
    WrongRootKey {
        token_key_id: Option<u32>,
        server_key_id: u32,
    },
    #[error(
        "the token's signature does not verify: it was modified after it was issued (or \
         forged); use the token exactly as issued"
    )]
    Tampered,
    #[error("this is not a valid sync token ({0}); check that it was copied whole")]
    Garbled(String),
    #[error("the token has no expiry; sync tokens are issued with one, ask for a new token")]
    NoExpiry,
    #[error("the token does not allow syncing: {0}")]
    Denied(String),
    #[error("invalid token request: {0}")]
    BadSpec(String),
    #[error("token evaluation failed: {0}")]
    Evaluation(String),
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A biscuit date for `t`: whole seconds since the epoch (0 before it).
fn date(t: SystemTime) -> Term {
    Term::Date(unix_secs(t))
}

/// The key id tokens issued with `public` carry: the first four bytes of the SHA-256 of the
/// public key, big-endian. Only used to say "another server's token" clearly; the signature
/// is what proves anything.
pub fn key_id(public: &PublicKey) -> u32 {
    let digest = ring::digest::digest(&ring::digest::SHA256, &public.to_bytes());
    let bytes = digest.as_ref();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Parses a public key as [`RootKey::public_key_string`] writes it (`ed25519/` and hex).
pub fn parse_public_key(text: &str) -> Result<PublicKey, AuthError> {
    text.trim()
        .parse::<PublicKey>()
        .map_err(|e| AuthError::BadSpec(format!("not a public key ({e}): expected ed25519/<hex>")))
}

/// A server's root key: it signs the tokens the server accepts.
pub struct RootKey {
    keypair: KeyPair,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKey")
            .field("public", &self.public_key_string())
            .finish_non_exhaustive()
    }
}

impl RootKey {
    /// A new random ed25519 key.
    pub fn generate() -> RootKey {
        RootKey {
            keypair: KeyPair::new_with_algorithm(Algorithm::Ed25519),
        }
    }

    pub fn public(&self) -> PublicKey {
        self.keypair.public()
    }

    /// The public key as text (`ed25519/` and hex), for clients' and servers' configuration.
    pub fn public_key_string(&self) -> String {
        self.keypair.public().to_string()
    }

    /// The key id tokens issued with this key carry ([`key_id`]).
    pub fn key_id(&self) -> u32 {
        key_id(&self.public())
    }

    /// The root key file's text (see the module documentation).
    pub fn to_file_contents(&self) -> String {
        format!(
            "{ROOT_KEY_FILE_HEADER}\n{}\n",
            self.keypair.private().to_prefixed_string()
        )
    }

    /// Reads a root key file's text; `path` is only for messages.
    pub fn from_file_contents(text: &str, path: &Path) -> Result<RootKey, AuthError> {
        let bad = |why: String| AuthError::KeyFile {
            path: path.to_owned(),
            why,
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let header = lines
            .next()
            .ok_or_else(|| bad("the file is empty".into()))?;
        if header != ROOT_KEY_FILE_HEADER {
            return Err(match header.strip_prefix(ROOT_KEY_FILE_PREFIX) {
                Some(v) => match v.parse::<u32>() {
                    Ok(v) if v > ROOT_KEY_FILE_FORMAT => bad(format!(
                        "it has format {v}, newer than this build's {ROOT_KEY_FILE_FORMAT} \
                         (upgrade HeliosDB Nano to read it)"
                    )),
                    _ => bad(format!("unknown format line {header:?}")),
                },
                None => bad(format!(
                    "it does not start with {ROOT_KEY_FILE_HEADER:?}, so it is not a root key file"
                )),
            });
        }
        let key = lines
            .next()
            .ok_or_else(|| bad("the key line is missing".into()))?;
        if lines.next().is_some() {
            return Err(bad("there is more than one key line".into()));
        }
        let private = if key.contains('/') {
            key.parse::<PrivateKey>()
        } else {
            PrivateKey::from_bytes_hex(key, Algorithm::Ed25519)
        }
        .map_err(|e| bad(format!("the key line is not a private key ({e})")))?;
        Ok(RootKey {
            keypair: KeyPair::from(&private),
        })
    }

    /// Writes the key to a new file (readable by its owner only, on Unix). An existing file
    /// is never overwritten.
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        use std::io::Write;
        let io = |source| AuthError::KeyIo {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AuthError::KeyFileExists(path.to_owned())
            } else {
                io(e)
            }
        })?;
        file.write_all(self.to_file_contents().as_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn load(path: &Path) -> Result<RootKey, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::InvalidData => AuthError::KeyFile {
                path: path.to_owned(),
                why: "it is not text".into(),
            },
            _ => AuthError::KeyIo {
                path: path.to_owned(),
                source,
            },
        })?;
        RootKey::from_file_contents(&text, path)
    }
}

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// Tables the holder may read (receive rows of); [`ALL_TABLES`] for every table.
    pub read: Vec<String>,
    /// Tables the holder may write (push rows or schema changes of); [`ALL_TABLES`] for all.
    pub write: Vec<String>,
    /// How long the token is valid from issue, rounded up to whole seconds.
    pub ttl: Duration,
    /// The device the token is for, reported in the [`Grant`].
    pub device: Option<String>,
}

/// The restrictions [`attenuate`] appends: each `Some` narrows what the token allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attenuation {
    /// Only these tables may be read (intersected with what the token allows); `Some(vec![])`
    /// forbids every read.
    pub read: Option<Vec<String>>,
    /// Only these tables may be written; `Some(vec![])` makes the token read-only.
    pub write: Option<Vec<String>>,
    /// Expire this long from now at the latest.
    pub ttl: Option<Duration>,
}

fn check_tables(what: &str, tables: &[String]) -> Result<(), AuthError> {
    if let Some(t) = tables.iter().find(|t| t.is_empty()) {
        return Err(AuthError::BadSpec(format!(
            "an empty table name {t:?} in the {what} tables"
        )));
    }
    Ok(())
}

fn expiry_after(now: SystemTime, ttl: Duration) -> Result<SystemTime, AuthError> {
    if ttl.is_zero() {
        return Err(AuthError::BadSpec("the ttl is zero".into()));
    }
    let since_epoch = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| AuthError::BadSpec("the clock is before 1970".into()))?;
    // Rounded up to whole seconds (biscuit dates are seconds), and before year 10000.
    let secs = since_epoch
        .checked_add(ttl)
        .map(|end| end.as_secs() + u64::from(end.subsec_nanos() > 0))
        .filter(|&secs| secs <= DATE_SECS_MAX)
        .ok_or_else(|| AuthError::BadSpec(format!("a ttl of {ttl:?} is too long")))?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Issues a token, valid from now for `spec.ttl`; base64 (URL-safe), as clients send it.
pub fn issue(root: &RootKey, spec: &TokenSpec) -> Result<String, AuthError> {
    issue_at(root, spec, SystemTime::now())
}

/// [`issue`] as if the time were `now`.
pub fn issue_at(root: &RootKey, spec: &TokenSpec, now: SystemTime) -> Result<String, AuthError> {
    check_tables("read", &spec.read)?;
    check_tables("write", &spec.write)?;
    let expires = expiry_after(now, spec.ttl)?;
    let mut code = String::new();
    let mut params = HashMap::new();
    for (op, tables) in [("read", &spec.read), ("write", &spec.write)] {
        for (i, table) in tables.iter().enumerate() {
            let name = format!("{op}{i}");
            code.push_str(&format!("right({{{name}}}, \"{op}\");\n"));
            params.insert(name, Term::Str(table.clone()));
        }
    }
    if let Some(device) = &spec.device {
        code.push_str("device({device});\n");
        params.insert("device".into(), Term::Str(device.clone()));
    }
    code.push_str("expires({expires});\ncheck if time($t), $t < {expires};\n");
    params.insert("expires".into(), date(expires));
    let token = Biscuit::builder()
        .code_with_params(&code, params, HashMap::new())
        .map_err(|e| AuthError::BadSpec(e.to_string()))?
        .root_key_id(root.key_id())
        .build(&root.keypair)
        .map_err(|e| AuthError::BadSpec(e.to_string()))?;
    token
        .to_base64()
        .map_err(|e| AuthError::BadSpec(e.to_string()))
}

/// A restriction check on `op`'s tables: other operations (and "connect") pass it.
fn restriction(op: &str, tables: &[String], params: &mut HashMap<String, Term>) -> Option<String> {
    if tables.iter().any(|t| t == ALL_TABLES) {
        return None;
    }
    let other = if op == "read" { "write" } else { "read" };
    let mut check = format!("check if operation(\"connect\") or operation(\"{other}\")");
    for (i, table) in tables.iter().enumerate() {
        let name = format!("{op}{i}");
        check.push_str(&format!(" or operation(\"{op}\"), resource({{{name}}})"));
        params.insert(name, Term::Str(table.clone()));
    }
    check.push_str(";\n");
    Some(check)
}

/// Narrows a token offline: appends a block of checks (no key needed, nothing contacted).
pub fn attenuate(token: &str, restrict: &Attenuation) -> Result<String, AuthError> {
    attenuate_at(token, restrict, SystemTime::now())
}

/// [`attenuate`] as if the time were `now` (for the ttl).
pub fn attenuate_at(
    token: &str,
    restrict: &Attenuation,
    now: SystemTime,
) -> Result<String, AuthError> {
    if token.len() > TOKEN_BYTES_MAX {
        return Err(AuthError::Garbled(format!(
            "{} bytes, over the {TOKEN_BYTES_MAX}-byte limit",
            token.len()
        )));
    }
    let unverified = biscuit_auth::UnverifiedBiscuit::from_base64(token.trim()).map_err(garbled)?;
    let mut code = String::new();
    let mut params = HashMap::new();
    if let Some(read) = &restrict.read {
        check_tables("read", read)?;
        code.extend(restriction("read", read, &mut params));
    }
    if let Some(write) = &restrict.write {
        check_tables("write", write)?;
        code.extend(restriction("write", write, &mut params));
    }
    if let Some(ttl) = restrict.ttl {
        let expires = expiry_after(now, ttl)?;
        code.push_str("expires({expires});\ncheck if time($t), $t < {expires};\n");
        params.insert("expires".into(), date(expires));
    }
    if code.is_empty() {
        return Err(AuthError::BadSpec(
            "the attenuation restricts nothing".into(),
        ));
    }
    let block = BlockBuilder::new()
        .code_with_params(&code, params, HashMap::new())
        .map_err(|e| AuthError::BadSpec(e.to_string()))?;
    unverified
        .append(block)
        .and_then(|t| t.to_base64())
        .map_err(|e| AuthError::BadSpec(format!("cannot attenuate the token: {e}")))
}

fn garbled(e: TokenError) -> AuthError {
    AuthError::Garbled(e.to_string())
}

/// Chooses the root key for a token, refusing tokens that name another key id.
struct ServerKey {
    key: PublicKey,
    id: u32,
}

impl biscuit_auth::RootKeyProvider for ServerKey {
    fn choose(&self, key_id: Option<u32>) -> Result<PublicKey, FormatError> {
        match key_id {
            Some(id) if id != self.id => Err(FormatError::UnknownPublicKey),
            _ => Ok(self.key),
        }
    }
}

/// Datalog run limits for one authorization; generous on time, since debug builds on a
/// busy machine are slow and the facts are few.
fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(200),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Read,
    Write,
}

/// What a verified token allows. Table rights are evaluated on first use and cached.
pub struct Grant {
    /// The device the token was issued for.
    pub device: Option<String>,
    /// When the token expires (the earliest expiry of its blocks).
    pub expires: SystemTime,
    rights: Rights,
    now: SystemTime,
    cache: Mutex<HashMap<(Operation, String), bool>>,
}

/// Where a grant's rights come from.
enum Rights {
    /// A biscuit: asked per table, since later blocks can restrict.
    Biscuit(Box<Biscuit>),
    /// Lists of tables (`*`: all), from a JWT's claims.
    Lists {
        read: Vec<String>,
        write: Vec<String>,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("device", &self.device)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// Whether the holder may receive `table`'s rows and schema changes.
    pub fn can_read(&self, table: &str) -> bool {
        self.allows(Operation::Read, table)
    }

    /// Whether the holder may push rows or schema changes of `table`.
    pub fn can_write(&self, table: &str) -> bool {
        self.allows(Operation::Write, table)
    }

    /// Whether the token has expired by `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now >= self.expires
    }

    fn allows(&self, op: Operation, table: &str) -> bool {
        let key = (op, table.to_owned());
        if let Some(&known) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return known;
        }
        let allowed = self.authorize(op, table);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, allowed);
        allowed
    }

    /// A grant of the tables listed (`*`: all) until `expires`.
    pub(crate) fn from_lists(
        read: Vec<String>,
        write: Vec<String>,
        expires: SystemTime,
        device: Option<String>,
        now: SystemTime,
    ) -> Grant {
        Grant {
            device,
            expires,
            rights: Rights::Lists { read, write },
            now,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn authorize(&self, op: Operation, table: &str) -> bool {
        let token = match &self.rights {
            Rights::Biscuit(token) => token,
            Rights::Lists { read, write } => {
                let list = match op {
                    Operation::Read => read,
                    Operation::Write => write,
                };
                return list.iter().any(|t| t == table || t == ALL_TABLES);
            }
        };
        let op = match op {
            Operation::Read => "read",
            Operation::Write => "write",
        };
        let params = HashMap::from([
            ("now".to_owned(), date(self.now)),
            ("table".to_owned(), Term::Str(table.to_owned())),
            ("op".to_owned(), Term::Str(op.to_owned())),
            ("all".to_owned(), Term::Str(ALL_TABLES.to_owned())),
        ]);
        AuthorizerBuilder::new()
            .code_with_params(
                "time({now}); resource({table}); operation({op});
                 allow if right($t, $op), resource($t), operation($op);
                 allow if right({all}, $op), operation($op);",
                params,
                HashMap::new(),
            )
            .map(|b| b.set_limits(limits()))
            .and_then(|b| b.build(token))
            .and_then(|mut a| a.authorize())
            .is_ok()
    }
}

/// Verifies `token` against the server's root public key at time `now`.
pub fn verify(root: &PublicKey, token: &str, now: SystemTime) -> Result<Grant, AuthError> {
    if token.len() > TOKEN_BYTES_MAX {
        return Err(AuthError::Garbled(format!(
            "{} bytes, over the {TOKEN_BYTES_MAX}-byte limit",
            token.len()
        )));
    }
    let server_key_id = key_id(root);
    let provider = ServerKey {
        key: *root,
        id: server_key_id,
    };
    let token = Biscuit::from_base64(token.trim(), provider).map_err(|e| match e {
        TokenError::Format(FormatError::UnknownPublicKey) => AuthError::WrongRootKey {
            token_key_id: biscuit_auth::UnverifiedBiscuit::from_base64(token.trim())
                .ok()
                .and_then(|t| t.root_key_id()),
            server_key_id,
        },
        TokenError::Format(FormatError::Signature(_) | FormatError::SealedSignature) => {
            AuthError::Tampered
        }
        other => garbled(other),
    })?;

    let params = HashMap::from([("now".to_owned(), date(now))]);
    let mut authorizer = AuthorizerBuilder::new()
        .code_with_params(
            "time({now}); operation(\"connect\"); allow if true;",
            params,
            HashMap::new(),
        )
        .map(|b| b.set_limits(limits()))
        .and_then(|b| b.build(&token))
        .map_err(|e| AuthError::Evaluation(e.to_string()))?;
    let connect = authorizer.authorize();
    // Every block's expiry; an attenuation's `expires` can only bring the reported expiry
    // earlier, never extend the checks.
    let expiries: Vec<(SystemTime,)> = authorizer
        .query_all("data($t) <- expires($t)")
        .map_err(|e| AuthError::Evaluation(e.to_string()))?;
    let expires = expiries
        .into_iter()
        .map(|(t,)| t)
        .min()
        .ok_or(AuthError::NoExpiry)?;
    let devices: Vec<(String,)> = authorizer
        .query("data($d) <- device($d)")
        .map_err(|e| AuthError::Evaluation(e.to_string()))?;
    if now >= expires {
        return Err(AuthError::Expired {
            expired_at: expires,
            now,
        });
    }
    match connect {
        Ok(_) => {}
        Err(TokenError::FailedLogic(logic)) => return Err(AuthError::Denied(logic.to_string())),
        Err(other) => return Err(AuthError::Evaluation(other.to_string())),
    }
    if devices.len() > 1 {
        return Err(AuthError::Denied(
            "the token names more than one device".into(),
        ));
    }
    Ok(Grant {
        device: devices.into_iter().next().map(|(d,)| d),
        expires,
        rights: Rights::Biscuit(Box::new(token)),
        now,
        cache: Mutex::new(HashMap::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(read: &[&str], write: &[&str]) -> TokenSpec {
        TokenSpec {
            read: read.iter().map(|s| s.to_string()).collect(),
            write: write.iter().map(|s| s.to_string()).collect(),
            ttl: Duration::from_secs(3600),
            device: Some("laptop-7".into()),
        }
    }

    #[test]
    fn rights_are_per_table_and_wildcards_cover_all() {
        let root = RootKey::generate();
        let token = issue(&root, &spec(&["*"], &["notes"])).unwrap();
        let grant = verify(&root.public(), &token, SystemTime::now()).unwrap();
        assert_eq!(grant.device.as_deref(), Some("laptop-7"));
        assert!(grant.can_read("notes") && grant.can_read("secret"));
        assert!(grant.can_write("notes"));
        assert!(!grant.can_write("secret"));
        // Cached answers stay the same.
        assert!(!grant.can_write("secret"));
        assert!(grant.can_write("notes"));
    }

    #[test]
    fn expiry_is_checked_at_the_given_time() {
        let root = RootKey::generate();
        let issued = SystemTime::now();
        let token = issue_at(&root, &spec(&["t"], &[]), issued).unwrap();
        let grant = verify(&root.public(), &token, issued + Duration::from_secs(3599)).unwrap();
        assert!(grant.expires >= issued + Duration::from_secs(3600));
        assert!(grant.expires <= issued + Duration::from_secs(3601));
        let late = verify(&root.public(), &token, issued + Duration::from_secs(3601));
        assert!(matches!(late, Err(AuthError::Expired { .. })), "{late:?}");
    }

    #[test]
    fn another_root_key_is_named_as_such() {
        let (ours, theirs) = (RootKey::generate(), RootKey::generate());
        let token = issue(&theirs, &spec(&["*"], &["*"])).unwrap();
        let err = verify(&ours.public(), &token, SystemTime::now()).unwrap_err();
        match err {
            AuthError::WrongRootKey {
                token_key_id,
                server_key_id,
            } => {
                assert_eq!(token_key_id, Some(theirs.key_id()));
                assert_eq!(server_key_id, ours.key_id());
            }
            other => panic!("expected WrongRootKey, got {other:?}"),
        }
    }

    /// Replaces the table name inside the signed authority block, as an attacker would.
    #[test]
    fn tampered_and_garbled_tokens_are_told_apart() {
        let root = RootKey::generate();
        let token = issue(&root, &spec(&["aaaaaaaa"], &["aaaaaaaa"])).unwrap();
        let mut bytes = biscuit_auth::UnverifiedBiscuit::from_base64(&token)
            .unwrap()
            .to_vec()
            .unwrap();
        let at = bytes
            .windows(8)
            .position(|w| w == b"aaaaaaaa")
            .expect("the table name is in the token");
        bytes[at..at + 8].copy_from_slice(b"zzzzzzzz");
        let tampered = biscuit_auth::UnverifiedBiscuit::from(&bytes)
            .unwrap()
            .to_base64()
            .unwrap();
        assert!(matches!(
            verify(&root.public(), &tampered, SystemTime::now()),
            Err(AuthError::Tampered)
        ));
        for garbage in ["", "not a token!", "AAAA", &token[..token.len() / 2]] {
            let err = verify(&root.public(), garbage, SystemTime::now()).unwrap_err();
            assert!(matches!(err, AuthError::Garbled(_)), "{garbage:?}: {err:?}");
        }
    }

    #[test]
    fn attenuation_only_restricts() {
        let root = RootKey::generate();
        let now = SystemTime::now();
        let token = issue_at(&root, &spec(&["*"], &["a", "b"]), now).unwrap();
        let narrowed = attenuate_at(
            &token,
            &Attenuation {
                read: Some(vec!["a".into()]),
                write: Some(vec!["a".into(), "c".into()]),
                ttl: Some(Duration::from_secs(60)),
            },
            now,
        )
        .unwrap();
        let grant = verify(&root.public(), &narrowed, now).unwrap();
        assert!(grant.can_read("a"));
        assert!(!grant.can_read("b"));
        assert!(grant.can_write("a"));
        assert!(!grant.can_write("b"), "dropped by the attenuation");
        assert!(!grant.can_write("c"), "an attenuation cannot add a right");
        assert!(grant.expires <= now + Duration::from_secs(61));
        assert!(matches!(
            verify(&root.public(), &narrowed, now + Duration::from_secs(120)),
            Err(AuthError::Expired { .. })
        ));
        // A longer ttl in an attenuation does not extend the token.
        let longer = attenuate_at(
            &token,
            &Attenuation {
                ttl: Some(Duration::from_secs(10 * 3600)),
                ..Attenuation::default()
            },
            now,
        )
        .unwrap();
        assert!(matches!(
            verify(&root.public(), &longer, now + Duration::from_secs(7200)),
            Err(AuthError::Expired { .. })
        ));
        // Read-only.
        let read_only = attenuate_at(
            &token,
            &Attenuation {
                write: Some(vec![]),
                ..Attenuation::default()
            },
            now,
        )
        .unwrap();
        let grant = verify(&root.public(), &read_only, now).unwrap();
        assert!(grant.can_read("anything"));
        assert!(!grant.can_write("a"));
    }

    #[test]
    fn rights_facts_in_an_attenuation_block_grant_nothing() {
        let root = RootKey::generate();
        let token = issue(&root, &spec(&["a"], &[])).unwrap();
        let block = BlockBuilder::new()
            .code(r#"right("*", "write"); right("b", "read");"#)
            .unwrap();
        let forged = biscuit_auth::UnverifiedBiscuit::from_base64(&token)
            .unwrap()
            .append(block)
            .unwrap()
            .to_base64()
            .unwrap();
        let grant = verify(&root.public(), &forged, SystemTime::now()).unwrap();
        assert!(grant.can_read("a"));
        assert!(!grant.can_read("b"));
        assert!(!grant.can_write("a"));
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let root = RootKey::generate();
        root.save(&path).unwrap();
        assert!(matches!(root.save(&path), Err(AuthError::KeyFileExists(_))));
        let loaded = RootKey::load(&path).unwrap();
        assert_eq!(loaded.public(), root.public());
        // A token issued with the loaded key verifies with the original's public key.
        let token = issue(&loaded, &spec(&["t"], &[])).unwrap();
        verify(&root.public(), &token, SystemTime::now()).unwrap();

        // A bare hex key after the header is read as ed25519.
        let hex = root.keypair.private().to_bytes_hex();
        let bare = RootKey::from_file_contents(&format!("{ROOT_KEY_FILE_HEADER}\n{hex}\n"), &path)
            .unwrap();
        assert_eq!(bare.public(), root.public());

        for (text, says) in [
            ("", "empty"),
            ("ed25519-private/00\n", "does not start with"),
            ("heliosdb-sync root key v9\nx\n", "newer than this build"),
            (&format!("{ROOT_KEY_FILE_HEADER}\n"), "missing"),
            (
                &format!("{ROOT_KEY_FILE_HEADER}\nzz-not-hex\n"),
                "not a private key",
            ),
            (
                &format!("{ROOT_KEY_FILE_HEADER}\n{hex}\n{hex}\n"),
                "more than one",
            ),
        ] {
            let err = RootKey::from_file_contents(text, &path).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, AuthError::KeyFile { .. }),
                "{text:?}: {err:?}"
            );
            assert!(message.contains(says), "{text:?}: {message}");
            assert!(message.contains("generate a new root key"), "{message}");
        }
        assert!(matches!(
            RootKey::load(&dir.path().join("missing.key")),
            Err(AuthError::KeyIo { .. })
        ));
    }

    #[test]
    fn bad_specs_are_refused() {
        let root = RootKey::generate();
        let mut zero = spec(&["t"], &[]);
        zero.ttl = Duration::ZERO;
        assert!(matches!(issue(&root, &zero), Err(AuthError::BadSpec(_))));
        assert!(matches!(
            issue(&root, &spec(&[""], &[])),
            Err(AuthError::BadSpec(_))
        ));
        let token = issue(&root, &spec(&["t"], &[])).unwrap();
        assert!(matches!(
            attenuate(&token, &Attenuation::default()),
            Err(AuthError::BadSpec(_))
        ));
        assert!(matches!(
            attenuate(
                "garbage",
                &Attenuation {
                    write: Some(vec![]),
                    ..Default::default()
                }
            ),
            Err(AuthError::Garbled(_))
        ));
    }

    #[test]
    fn table_names_are_data_not_datalog() {
        let root = RootKey::generate();
        let odd = r#"x"); right("*", "write"#;
        let token = issue(&root, &spec(&[odd], &[])).unwrap();
        let grant = verify(&root.public(), &token, SystemTime::now()).unwrap();
        assert!(grant.can_read(odd));
        assert!(!grant.can_write("anything"));
    }
}
