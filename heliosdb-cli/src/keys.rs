//! Where the database encryption key comes from: `--key-env`, `--key-file` or
//! `--passphrase` (asked for without echo). Key material is never printed.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use heliosdb_nano::{Database, DatabaseOptions, KeySource};

/// The key that opens an encrypted database; none of the three means the file is not
/// encrypted.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KeyArgs {
    /// Encryption key from this environment variable: 64 hex digits are a raw 256-bit
    /// key, any other value is a passphrase.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["key_file", "passphrase"])]
    pub key_env: Option<String>,
    /// Encryption key from this file: 32 raw bytes or 64 hex digits.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase")]
    pub key_file: Option<PathBuf>,
    /// Ask for the passphrase, without echo. When standard input is not a terminal, its
    /// first line is the passphrase.
    #[arg(long)]
    pub passphrase: bool,
}

/// The new key for `heliosdb rekey`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct NewKeyArgs {
    /// The new key from this environment variable (64 hex digits, or a passphrase).
    #[arg(long, value_name = "VAR", conflicts_with_all = ["new_key_file", "new_passphrase"])]
    pub new_key_env: Option<String>,
    /// The new key from this file (32 raw bytes or 64 hex digits).
    #[arg(long, value_name = "FILE", conflicts_with = "new_passphrase")]
    pub new_key_file: Option<PathBuf>,
    /// Ask for the new passphrase (twice on a terminal), without echo; from standard
    /// input's next line when it is not a terminal.
    #[arg(long)]
    pub new_passphrase: bool,
}

impl KeyArgs {
    /// The key asked for, if any. `creating` asks for a passphrase twice on a terminal.
    pub fn source(&self, creating: bool) -> Result<Option<KeySource>> {
        resolve(
            self.key_env.as_deref(),
            self.key_file.as_deref(),
            self.passphrase,
            creating,
            "passphrase",
        )
    }
}

impl NewKeyArgs {
    pub fn source(&self) -> Result<KeySource> {
        match resolve(
            self.new_key_env.as_deref(),
            self.new_key_file.as_deref(),
            self.new_passphrase,
            true,
            "new passphrase",
        )? {
            Some(key) => Ok(key),
            None => bail!(
                "give the new key: --new-key-env VAR, --new-key-file FILE or --new-passphrase"
            ),
        }
    }
}

fn resolve(
    env: Option<&str>,
    file: Option<&Path>,
    ask: bool,
    confirm: bool,
    what: &str,
) -> Result<Option<KeySource>> {
    if let Some(var) = env {
        return Ok(Some(KeySource::from_env(var)?));
    }
    if let Some(file) = file {
        return Ok(Some(KeySource::from_file(file)?));
    }
    if ask {
        return Ok(Some(KeySource::passphrase(read_passphrase(what, confirm)?)));
    }
    Ok(None)
}

fn read_passphrase(what: &str, confirm: bool) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{what}: "))
            .with_context(|| format!("reading the {what}"))?;
        if confirm {
            let again = rpassword::prompt_password(format!("repeat the {what}: "))
                .with_context(|| format!("reading the {what}"))?;
            if again != first {
                bail!("the two {what}s differ; nothing was changed");
            }
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        bail!("the {what} is empty: give it as the first line of standard input");
    }
    Ok(line)
}

/// Opens `path` (created if missing), encrypted when a key is given.
pub fn open(path: &Path, keys: &KeyArgs, options: DatabaseOptions) -> Result<Database> {
    let creating = !path.exists();
    let db = match keys.source(creating)? {
        Some(key) => heliosdb_nano::open_encrypted(path, &key, options),
        None => heliosdb_nano::open_plain(path, options),
    };
    db.with_context(|| format!("opening {}", path.display()))
}
