//! TLS for sync: the server's certificate and key, and how a client trusts them.
//!
//! Everything uses rustls's ring provider explicitly (never the process default), TLS 1.3
//! only (QUIC requires it), and the ALPN protocol [`proto::ALPN`](super::proto::ALPN).
//!
//! A certificate's fingerprint is the SHA-256 of its DER encoding, as 64 lowercase hex
//! digits. [`Trust::Pin`] accepts exactly the leaf certificate with that fingerprint (its
//! names and validity dates are not checked: the pin is the trust decision), and still
//! checks that the server holds the certificate's private key (the handshake signature).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{Limits, NetError, proto};

/// Installs rustls's ring provider as the process default, if no provider is installed yet.
/// This crate does not need it (it passes the provider explicitly), but other rustls users
/// in the process may.
pub fn install_crypto_provider() {
    // Err means a provider is installed already: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The SHA-256 of `der` (a certificate), as lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut hex = String::with_capacity(64);
    for byte in digest.as_ref() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Normalizes a fingerprint as a user may write it (any case, optional `:` separators).
pub(crate) fn normalize_fingerprint(text: &str) -> Result<String, NetError> {
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(NetError::BadFingerprint(text.to_owned()));
    }
    Ok(hex)
}

/// The server's certificate chain (leaf first) and private key.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    fingerprint: String,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("fingerprint", &self.fingerprint)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        ServerIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

impl ServerIdentity {
    /// A certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerIdentity, NetError> {
        let bad = |path: &Path, why: String| NetError::CertificateFile {
            path: path.to_owned(),
            why,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(cert, format!("cannot read certificates ({e})")))?;
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| bad(key, format!("cannot read a private key ({e})")))?;
        ServerIdentity::from_der(chain, key_der).map_err(|e| match e {
            NetError::Tls(why) => bad(cert, why),
            other => other,
        })
    }

    /// A chain (leaf first) and key already decoded.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerIdentity, NetError> {
        let leaf = chain
            .first()
            .ok_or_else(|| NetError::Tls("the certificate chain is empty".into()))?;
        let fingerprint = fingerprint(leaf);
        // Checks now that the key suits the certificate, rather than at the first client.
        let signing_key = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| NetError::Tls(format!("the private key is unusable: {e}")))?;
        rustls::sign::CertifiedKey::new(chain.clone(), signing_key)
            .keys_match()
            .map_err(|e| NetError::Tls(format!("the key does not match the certificate: {e}")))?;
        Ok(ServerIdentity {
            chain,
            key,
            fingerprint,
        })
    }

    /// A fresh self-signed certificate for `localhost`, `127.0.0.1` and `::1`, for
    /// development (`--dev`): clients pin its [`fingerprint`](Self::fingerprint).
    pub fn self_signed_dev() -> Result<ServerIdentity, NetError> {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| NetError::Tls(format!("cannot generate a certificate: {e}")))?;
        let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .map_err(|e| NetError::Tls(format!("cannot encode the generated key: {e}")))?;
        ServerIdentity::from_der(vec![certified.cert.der().clone()], key)
    }

    /// The SHA-256 of the leaf certificate, lowercase hex: what clients pin.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The leaf certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    pub(crate) fn server_config(&self, limits: &Limits) -> Result<quinn::ServerConfig, NetError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| NetError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| NetError::Tls(e.to_string()))?;
        tls.alpn_protocols = vec![proto::ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| NetError::Tls(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(limits.transport(false)?));
        Ok(config)
    }
}

/// How a client decides the server is the right one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Exactly the leaf certificate with this SHA-256 fingerprint (64 hex digits; `:`
    /// separators and upper case are accepted).
    Pin(String),
    /// Certificates that chain to a CA in this PEM file, for the host name in the URL.
    CaFile(PathBuf),
}

/// Why a verifier refused the server's certificate, kept for a typed client error.
#[derive(Debug, Default)]
pub(crate) struct Rejection(Mutex<Option<NetError>>);

impl Rejection {
    fn set(&self, error: NetError) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    pub(crate) fn take(&self) -> Option<NetError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[derive(Debug)]
struct PinVerifier {
    expected: String,
    algorithms: WebPkiSupportedAlgorithms,
    rejection: Arc<Rejection>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = fingerprint(end_entity);
        if found == self.expected {
            return Ok(ServerCertVerified::assertion());
        }
        self.rejection.set(NetError::FingerprintMismatch {
            expected: self.expected.clone(),
            found: found.clone(),
        });
        Err(rustls::Error::General(format!(
            "certificate fingerprint {found} is not the pinned {}",
            self.expected
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The standard WebPKI verifier over a CA file, remembering why it refused.
#[derive(Debug)]
struct CaVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    ca_file: PathBuf,
    rejection: Arc<Rejection>,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .inspect_err(|e| {
                self.rejection.set(NetError::UntrustedCertificate {
                    ca_file: self.ca_file.clone(),
                    found: fingerprint(end_entity),
                    why: e.to_string(),
                })
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A quinn client configuration for `trust`, and where its verifier leaves the reason it
/// refused a certificate.
pub(crate) fn client_config(
    trust: &Trust,
    limits: &Limits,
) -> Result<(quinn::ClientConfig, Arc<Rejection>), NetError> {
    let provider = provider();
    let rejection = Arc::new(Rejection::default());
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        Trust::Pin(pin) => Arc::new(PinVerifier {
            expected: normalize_fingerprint(pin)?,
            algorithms: provider.signature_verification_algorithms,
            rejection: rejection.clone(),
        }),
        Trust::CaFile(path) => {
            let bad = |why: String| NetError::CertificateFile {
                path: path.clone(),
                why,
            };
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("cannot read CA certificates ({e})")))?;
            if certs.is_empty() {
                return Err(bad("no certificate in the file".into()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("not a usable CA certificate ({e})")))?;
            }
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| bad(e.to_string()))?;
            Arc::new(CaVerifier {
                inner,
                ca_file: path.clone(),
                rejection: rejection.clone(),
            })
        }
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(limits.transport(true)?));
    Ok((config, rejection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_sha256_hex_and_pins_normalize() {
        assert_eq!(
            fingerprint(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let upper = "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
        assert_eq!(normalize_fingerprint(upper).unwrap(), fingerprint(b""));
        assert!(matches!(
            normalize_fingerprint("abcd"),
            Err(NetError::BadFingerprint(_))
        ));
    }

    #[test]
    fn dev_identity_fingerprint_is_its_leaf() {
        let identity = ServerIdentity::self_signed_dev().unwrap();
        assert_eq!(
            identity.fingerprint(),
            fingerprint(identity.certificate_der())
        );
    }

    #[test]
    fn pem_files_load_and_mismatched_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".to_owned()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let other_key = dir.path().join("other.pem");
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();
        std::fs::write(&other_key, b.signing_key.serialize_pem()).unwrap();
        let identity = ServerIdentity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(identity.fingerprint(), fingerprint(a.cert.der()));
        assert!(matches!(
            ServerIdentity::from_pem_files(&cert, &other_key),
            Err(NetError::CertificateFile { .. })
        ));
        assert!(matches!(
            ServerIdentity::from_pem_files(&key, &key),
            Err(NetError::CertificateFile { .. })
        ));
    }
}
