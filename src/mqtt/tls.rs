//! TLS for `mqtts://` brokers: the server verified against a CA (the given
//! file's, else the system's), and optionally a client certificate, as
//! Mosquitto with `require_certificate` and AWS IoT Core ask for.

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The PEM files of a TLS connection, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates the broker's certificate must chain to (default:
    /// the system's store).
    pub ca: Option<PathBuf>,
    /// This client's certificate chain, for brokers that require one.
    pub cert: Option<PathBuf>,
    /// The private key of `cert`.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }
}

/// The TLS options of `serve` and `controller-emu`, one definition for both.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TlsOpts {
    /// CA certificates (PEM) the broker's certificate must chain to, for
    /// an mqtts:// broker (default: the system's store).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// This client's certificate (PEM), for brokers that authenticate
    /// clients by certificate (Mosquitto's require_certificate, AWS IoT
    /// Core). With --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain mqtt:// to a broker on another machine: passwords, code
    /// hashes and pickup codes then cross the network in the clear.
    #[arg(long)]
    pub insecure_plaintext: bool,
}

impl TlsOpts {
    pub fn files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        }
    }
}

/// A loaded client configuration (cheap to clone: one per process).
#[derive(Clone)]
pub struct Tls(pub(super) Arc<ClientConfig>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

impl Tls {
    /// Reads and checks the files now, so a wrong path or a key that does
    /// not match its certificate stops the program at start, not at the
    /// first connection attempt.
    pub fn load(files: &TlsFiles) -> Result<Tls, String> {
        let roots = match &files.ca {
            Some(ca) => roots_from(ca)?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots);
        let config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let chain = certs_from(cert)?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    format!(
                        "--tls-key {}: {e} (expected a PEM private key: PKCS#8, PKCS#1 or SEC1)",
                        key.display()
                    )
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    format!(
                        "--tls-cert {} with --tls-key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err("--tls-cert needs --tls-key (its private key)".into()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert (its certificate)".into()),
        };
        Ok(Tls(Arc::new(config)))
    }
}

/// A connection that failed on certificates, which waiting does not fix:
/// the broker's did not verify against the CA (`Some(true)`), or the
/// broker refused ours (`Some(false)`).
pub fn certificate_failure(e: &rumqttc::ConnectionError) -> Option<(bool, String)> {
    use rumqttc::{ConnectionError, TlsError};
    use rustls::AlertDescription as A;
    let io = match e {
        ConnectionError::Tls(TlsError::TLS(r)) => return verdict(r),
        // TLS 1.3 settles the client's certificate after the handshake:
        // the broker's refusal arrives with the first read.
        ConnectionError::Tls(TlsError::Io(io))
        | ConnectionError::Io(io)
        | ConnectionError::MqttState(rumqttc::StateError::Io(io))
        | ConnectionError::MqttState(rumqttc::StateError::Deserialization(rumqttc::Error::Io(
            io,
        ))) => io,
        _ => return None,
    };
    return verdict(io.get_ref()?.downcast_ref::<rustls::Error>()?);

    fn verdict(r: &rustls::Error) -> Option<(bool, String)> {
        match r {
            rustls::Error::InvalidCertificate(_) => Some((true, r.to_string())),
            rustls::Error::AlertReceived(
                A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied
                | A::CertificateRequired,
            ) => Some((false, r.to_string())),
            _ => None,
        }
    }
}

fn certs_from(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e} (expected PEM certificates)", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn roots_from(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certs_from(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("--tls-ca {}: {e}", path.display()))?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(format!(
            "mqtts:// without --tls-ca: no CA certificate in the system store ({} errors; \
             install ca-certificates or give --tls-ca FILE)",
            found.errors.len()
        ));
    }
    Ok(roots)
}
