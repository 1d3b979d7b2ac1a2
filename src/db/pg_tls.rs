//! PostgreSQL over TLS without a TLS library in libpq (the bundled one is built without OpenSSL):
//! when `DATABASE_URL` asks for TLS (`sslmode=require`, `verify-ca` or `verify-full`), the app
//! relays libpq's connections through a Unix socket of its own to the server, doing PostgreSQL's
//! TLS negotiation with rustls on the way (`pg_relay`). libpq is handed a URL that points at the
//! socket with `sslmode=disable`, and never sees a TLS parameter.
//!
//! The modes mean what they mean to libpq: `require` encrypts without checking the certificate
//! (unless `sslrootcert` is given, as libpq does), `verify-ca` checks that a trusted CA signed it,
//! `verify-full` also that it names the host. `sslrootcert` is a PEM file of CA certificates or
//! `system` (the Mozilla roots built in, also the default for the verify modes).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::Backend;
use crate::error::AppError;

/// libpq's TLS parameters that the relay takes over; none of them reaches libpq.
const TAKEN: [&str; 9] = [
    "sslmode",
    "sslrootcert",
    "requiressl",
    "sslsni",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslnegotiation",
    "hostaddr",
];

/// TLS parameters the relay cannot honour: refused rather than ignored.
const UNSUPPORTED: [&str; 5] = ["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir"];

/// What the relay must check of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only (`require`).
    Nothing,
    /// A trusted CA signed it (`verify-ca`, or `require` with `sslrootcert`).
    Ca,
    /// ... and it names the host (`verify-full`).
    Full,
}

/// Where the relay connects and how, read from a URL that asks for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name the certificate must carry (and SNI, for a DNS name).
    pub host: String,
    /// Where to connect: `hostaddr` when the URL gives one, else the host.
    pub connect_to: String,
    pub port: u16,
    pub verify: Verify,
    /// `None`: the built-in roots.
    pub root_cert: Option<PathBuf>,
}

/// A URL that asks for TLS: where to relay, and the URL libpq gets instead, for a socket in `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub target: Target,
    /// The operator's URL with the host replaced by `dir` and no TLS parameter.
    pub libpq_url: String,
}

/// The URL to open `url` with: itself, or when it asks for TLS to PostgreSQL, a URL of the relay
/// started for it, its socket in a new private folder under `dir` (see the module's doc).
pub fn through_tls_relay(url: &str, dir: &std::path::Path) -> Result<String, AppError> {
    let failed = |why: String| AppError::Startup(format!("cannot open database: {why}"));
    if split(url, dir).map_err(failed)?.is_none() {
        return Ok(url.to_owned());
    }
    let folder = super::pg_relay::new_folder(dir).map_err(failed)?;
    let Some(split) = split(url, &folder).map_err(failed)? else { return Ok(url.to_owned()) };
    super::pg_relay::start(split.target, &folder).map_err(failed)?;
    Ok(split.libpq_url)
}

fn invalid(why: impl std::fmt::Display) -> String {
    format!("invalid DATABASE_URL for TLS: {why}")
}

/// `None` when `url` does not ask for TLS (not PostgreSQL, or `sslmode` absent, `disable`, `allow`
/// or `prefer`: without TLS in libpq those connect in the clear, as before). Messages name
/// parameters, never the URL (it may hold a password).
pub fn split(url: &str, dir: &Path) -> Result<Option<Split>, String> {
    if Backend::of(url) != Backend::Postgres {
        return Ok(None);
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("it does not parse ({e})")))?;
    let param = |name: &str| parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let mode = match (param("sslmode"), param("requiressl").as_deref()) {
        (Some(mode), _) => mode,
        (None, Some("1")) => "require".to_owned(),
        _ => return Ok(None),
    };
    let root_cert = param("sslrootcert").filter(|r| r != "system").map(PathBuf::from);
    let verify = match mode.as_str() {
        "disable" | "allow" | "prefer" => return Ok(None),
        "require" if root_cert.is_some() => Verify::Ca,
        "require" => Verify::Nothing,
        "verify-ca" => Verify::Ca,
        "verify-full" => Verify::Full,
        other => return Err(invalid(format!("unknown sslmode {other:?}"))),
    };
    if let Some(name) = UNSUPPORTED.iter().find(|name| param(name).is_some()) {
        return Err(invalid(format!("{name} (client certificates, revocation lists) is not supported")));
    }
    if param("sslnegotiation").is_some_and(|n| n != "postgres") {
        return Err(invalid("only sslnegotiation=postgres is supported"));
    }
    let host = match param("host") {
        Some(host) => host,
        None => parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned(),
    };
    if host.is_empty() || host.starts_with('/') || host.starts_with('@') || host.contains(',') {
        return Err(invalid("TLS needs one TCP host (not a socket path, not a list of hosts)"));
    }
    let port = match (param("port"), parsed.port()) {
        (Some(p), _) => p.parse::<u16>().map_err(|_| invalid("the port is not a number"))?,
        (None, Some(p)) => p,
        (None, None) => 5432,
    };
    let connect_to = param("hostaddr").unwrap_or_else(|| host.clone());
    let target = Target { host, connect_to, port, verify, root_cert };

    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in
        parsed.query_pairs().filter(|(k, _)| !TAKEN.contains(&k.as_ref()) && k != "host" && k != "port")
    {
        query.append_pair(&k, &v);
    }
    query.append_pair("host", &dir.to_string_lossy());
    query.append_pair("port", &port.to_string());
    query.append_pair("sslmode", "disable");
    let userinfo = match (parsed.username(), parsed.password()) {
        ("", _) => String::new(),
        (user, None) => format!("{user}@"),
        (user, Some(password)) => format!("{user}:{password}@"),
    };
    let libpq_url = format!("postgres://{userinfo}{}?{}", parsed.path(), query.finish());
    Ok(Some(Split { target, libpq_url }))
}

/// The rustls client configuration for `target`: its CA file or the built-in roots, and its checks.
pub fn client_config(target: &Target) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &target.root_cert {
        Some(path) => {
            let unreadable =
                |e: &dyn std::fmt::Display| format!("cannot read sslrootcert {}: {e}", path.display());
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
                roots.add(cert.map_err(|e| unreadable(&e))?).map_err(|e| unreadable(&e))?;
            }
            if roots.is_empty() {
                return Err(unreadable(&"it holds no certificate"));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot use the CA certificates: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match target.verify {
        Verify::Full => webpki,
        Verify::Ca => Arc::new(AnyName(webpki)),
        Verify::Nothing => Arc::new(Unchecked(provider.clone())),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: the chain is checked, the name is not (libpq's meaning).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require`: any certificate, as libpq accepts it; the handshake's signatures are still checked,
/// so the session is encrypted to whoever holds the certificate's key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests;
