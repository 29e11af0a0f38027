//! The `tls` check: connect to any `host:port`, complete a TLS handshake, and report
//! the certificate (subject, issuer, SANs, chain, days to expiry) and whether it
//! verifies for the host name. Also the TLS plumbing the HTTP check uses.
//!
//! Verification is done after the handshake, by rustls' own WebPKI verifier, so a
//! certificate that fails it can still be described: "expired 2 days ago" is more
//! useful than "handshake failed". No application data is sent before it passes
//! (unless a check explicitly sets `tls_skip_verify`).

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::net::{self, IpVersion};
use super::Run;
use crate::result::{AssertionFailure, CertificateInfo, ChainCertificate, CheckError, ErrorKind};
use crate::spec::reader::{Obj, Problems};
use crate::spec::{human, Common, LowerBound};

/// A `tls` check.
///
/// ```toml
/// [[checks]]
/// name = "mail-tls"
/// kind = "tls"
/// host = "mail.example.com"
/// port = 465
/// [checks.expect]
/// certificate_expires_in = { min = "7d", warn = "21d" }
/// ```
#[derive(Clone, Debug)]
pub struct TlsCheck {
    /// Host name or IP to connect to.
    pub host: String,
    /// Port (default 443).
    pub port: u16,
    /// Name sent as SNI and verified against the certificate (default: `host`).
    pub server_name: Option<String>,
    /// Address family preference.
    pub ip_version: IpVersion,
    /// A PEM file of CA certificates to trust instead of the system and Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// What must hold.
    pub expect: TlsExpect,
}

/// Assertions of a `tls` check.
#[derive(Clone, Debug)]
pub struct TlsExpect {
    /// Time left before the leaf certificate expires.
    pub certificate_expires_in: LowerBound,
    /// The chain must lead to a trusted root (default true; set false to watch a self-signed host).
    pub chain_valid: bool,
    /// The certificate must be valid for the name (default true).
    pub hostname_valid: bool,
}

/// How the server's certificate is trusted, for checks that speak TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsTrust {
    /// Accept any certificate (still reported, never enforced). Off unless set per check.
    pub skip_verify: bool,
    /// A PEM file of CA certificates to trust instead of the default roots.
    pub ca_file: Option<PathBuf>,
}

impl TlsTrust {
    pub(crate) fn read(o: &mut Obj, p: &mut Problems, allow_skip: bool) -> TlsTrust {
        let skip_verify = if allow_skip {
            o.bool("tls_skip_verify", p).unwrap_or(false)
        } else {
            false
        };
        let ca_path = o.at("ca_file");
        let ca_file = o.string("ca_file", p).map(PathBuf::from);
        if let Some(file) = &ca_file {
            if let Err(e) = load_roots(file) {
                p.push(ca_path, e);
            }
        }
        TlsTrust { skip_verify, ca_file }
    }
}

impl TlsCheck {
    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<TlsCheck> {
        let host = o.required_string("host", p);
        let port = o.int("port", 1, 65535, p).unwrap_or(443) as u16;
        let server_name = o.string("server_name", p);
        let ip_version = IpVersion::read(o, p);
        let trust = TlsTrust::read(o, p, false);
        let mut expect = TlsExpect {
            certificate_expires_in: LowerBound::default(),
            chain_valid: true,
            hostname_valid: true,
        };
        if let Some(mut e) = o.object("expect", p) {
            expect.certificate_expires_in = LowerBound::parse(&mut e, "certificate_expires_in", p).unwrap_or_default();
            expect.chain_valid = e.bool("chain_valid", p).unwrap_or(true);
            expect.hostname_valid = e.bool("hostname_valid", p).unwrap_or(true);
            e.finish(p);
        }
        if let Some(name) = server_name.as_deref().or(host.as_deref()) {
            if ServerName::try_from(name.to_string()).is_err() {
                p.push(
                    o.at(if server_name.is_some() { "server_name" } else { "host" }),
                    format!("{name:?} is not a valid host name"),
                );
            }
        }
        Some(TlsCheck {
            host: host?,
            port,
            server_name,
            ip_version,
            ca_file: trust.ca_file,
            expect,
        })
    }

    pub(crate) async fn probe(&self, configs: &TlsConfigs, run: &mut Run) -> Result<(), CheckError> {
        let addrs = net::resolve(run, &self.host, self.port, self.ip_version).await?;
        let tcp = net::connect(run, &addrs).await?;
        let name = self.server_name.as_deref().unwrap_or(&self.host);
        let trust = TlsTrust {
            skip_verify: true,
            ca_file: self.ca_file.clone(),
        };
        handshake(configs, run, tcp, name, &trust, Alpn::None).await?;
        let Some(cert) = run.observed.certificate.clone() else {
            return Err(CheckError::new(ErrorKind::Tls, "the server presented no certificate"));
        };
        let verdict = &mut run.verdict;
        if self.expect.chain_valid && !cert.chain_valid {
            let why = cert.verify_error.clone().unwrap_or_else(|| "not trusted".into());
            verdict
                .failures
                .push(AssertionFailure::new("chain_valid", "a chain to a trusted root", why));
        }
        if self.expect.hostname_valid && !cert.hostname_valid {
            verdict.failures.push(AssertionFailure::new(
                "hostname_valid",
                format!("a certificate valid for {name}"),
                format!("valid for {}", cert.sans.join(", ")),
            ));
        }
        evaluate_expiry(&self.expect.certificate_expires_in, &cert, verdict);
        Ok(())
    }
}

/// Judges a certificate's remaining lifetime against a bound (shared with HTTP checks).
pub(crate) fn evaluate_expiry(bound: &LowerBound, cert: &CertificateInfo, verdict: &mut crate::spec::Verdict) {
    if bound.min.is_none() && bound.warn.is_none() {
        return;
    }
    let now = Utc::now();
    if cert.not_after <= now {
        let ago = (now - cert.not_after).to_std().unwrap_or_default();
        let expected = bound
            .min
            .or(bound.warn)
            .map(|d| format!("> {}", human(d)))
            .unwrap_or_default();
        verdict.failures.push(AssertionFailure::new(
            "certificate_expires_in",
            expected,
            format!("expired {} ago", human(ago)),
        ));
        return;
    }
    bound.evaluate("certificate_expires_in", cert.expires_in(now), verdict);
}

/// Which ALPN protocols to offer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Alpn {
    /// None (plain TLS check).
    None,
    /// `h2` and `http/1.1`.
    Http,
}

/// A trust store (its CA file, or the defaults) and an ALPN set.
type TlsKey = (Option<PathBuf>, Alpn);

/// rustls client configurations, built once per trust store and ALPN set.
#[derive(Default)]
pub(crate) struct TlsConfigs {
    built: Mutex<HashMap<TlsKey, Arc<TlsSetup>>>,
}

/// A client configuration and the verifier used to judge certificates after the handshake.
struct TlsSetup {
    config: Arc<ClientConfig>,
    verifier: Arc<WebPkiServerVerifier>,
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Mozilla's roots plus the operating system's, loaded once per process.
fn default_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let native = rustls_native_certs::load_native_certs();
            let _ = roots.add_parsable_certificates(native.certs);
            Arc::new(roots)
        })
        .clone()
}

/// Reads a PEM file of CA certificates.
fn load_roots(file: &Path) -> Result<RootCertStore, String> {
    let pem = std::fs::read(file).map_err(|e| format!("could not read {}: {e}", file.display()))?;
    let mut roots = RootCertStore::empty();
    let mut found = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{} is not a PEM certificate file: {e}", file.display()))?;
        roots.add(cert).map_err(|e| format!("{}: {e}", file.display()))?;
        found += 1;
    }
    if found == 0 {
        return Err(format!("{} holds no PEM certificate", file.display()));
    }
    Ok(roots)
}

impl TlsConfigs {
    fn get(&self, ca_file: Option<&Path>, alpn: Alpn) -> Result<Arc<TlsSetup>, CheckError> {
        let key = (ca_file.map(Path::to_path_buf), alpn);
        if let Some(found) = self.built.lock().expect("tls cache poisoned").get(&key) {
            return Ok(found.clone());
        }
        let roots = match ca_file {
            Some(file) => Arc::new(load_roots(file).map_err(|e| CheckError::new(ErrorKind::Tls, e))?),
            None => default_roots(),
        };
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| CheckError::new(ErrorKind::Tls, format!("TLS verifier: {e}")))?;
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| CheckError::new(ErrorKind::Tls, format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(VerifyAfterHandshake {
                webpki: verifier.clone(),
            }))
            .with_no_client_auth();
        // Every probe measures a full handshake and sees the certificate.
        config.resumption = Resumption::disabled();
        if alpn == Alpn::Http {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        let setup = Arc::new(TlsSetup {
            config: Arc::new(config),
            verifier,
        });
        self.built
            .lock()
            .expect("tls cache poisoned")
            .insert(key, setup.clone());
        Ok(setup)
    }
}

/// Lets the handshake complete whatever the certificate, so it can be described;
/// handshake signatures are still checked. The chain and name are judged right
/// after the handshake by [`inspect`], before any request is sent.
#[derive(Debug)]
struct VerifyAfterHandshake {
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for VerifyAfterHandshake {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Completes a TLS handshake over `tcp`, timing the `tls` phase, and records the
/// certificate in `run.observed`. Unless `trust.skip_verify`, a certificate that does
/// not verify is an error of kind `tls`.
pub(crate) async fn handshake(
    configs: &TlsConfigs,
    run: &mut Run,
    tcp: TcpStream,
    name: &str,
    trust: &TlsTrust,
    alpn: Alpn,
) -> Result<TlsStream<TcpStream>, CheckError> {
    let setup = configs.get(trust.ca_file.as_deref(), alpn)?;
    let server_name = ServerName::try_from(name.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|e| CheckError::new(ErrorKind::Tls, format!("{name:?} is not a valid TLS server name: {e}")))?;
    let t = Instant::now();
    let connecting = TlsConnector::from(setup.config.clone()).connect(server_name.clone(), tcp);
    let done = run.within("TLS handshake", connecting).await;
    run.phases.add(|p| &mut p.tls_ms, t.elapsed());
    let stream = done?.map_err(|e| CheckError::new(ErrorKind::Tls, format!("TLS handshake failed: {e}")))?;
    let certs = stream.get_ref().1.peer_certificates().unwrap_or_default();
    let info = inspect(&setup.verifier, certs, &server_name)?;
    let ok = info.chain_valid && info.hostname_valid;
    let why = info.verify_error.clone();
    run.observed.certificate = Some(Box::new(info));
    if !ok && !trust.skip_verify {
        let why = why.unwrap_or_else(|| "not trusted".into());
        return Err(CheckError::new(
            ErrorKind::Tls,
            format!("certificate verify failed: {why}"),
        ));
    }
    Ok(stream)
}

/// Describes a presented chain and judges it with rustls' WebPKI verifier.
fn inspect(
    verifier: &WebPkiServerVerifier,
    certs: &[CertificateDer<'_>],
    name: &ServerName<'_>,
) -> Result<CertificateInfo, CheckError> {
    let Some((leaf, intermediates)) = certs.split_first() else {
        return Err(CheckError::new(ErrorKind::Tls, "the server presented no certificate"));
    };
    let mut chain = Vec::with_capacity(certs.len());
    let mut leaf_info = None;
    for (i, der) in certs.iter().enumerate() {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            CheckError::new(
                ErrorKind::Tls,
                format!("certificate {i} of the chain does not parse: {e}"),
            )
        })?;
        let not_after = to_utc(cert.validity().not_after.timestamp());
        chain.push(ChainCertificate {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after,
        });
        if i == 0 {
            let sans = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| ext.value.general_names.iter().filter_map(general_name).collect())
                .unwrap_or_default();
            leaf_info = Some((to_utc(cert.validity().not_before.timestamp()), not_after, sans));
        }
    }
    let (not_before, not_after, sans) = leaf_info.expect("the chain has a leaf");
    let verified = verifier.verify_server_cert(leaf, intermediates, name, &[], UnixTime::now());
    let hostname_valid = ParsedCertificate::try_from(leaf)
        .and_then(|p| verify_server_name(&p, name))
        .is_ok();
    let chain_valid = match &verified {
        Ok(_) => true,
        Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
        | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => true,
        Err(_) => false,
    };
    let now = Utc::now();
    Ok(CertificateInfo {
        subject: chain[0].subject.clone(),
        issuer: chain[0].issuer.clone(),
        sans,
        not_before,
        not_after,
        days_left: ((not_after - now).num_seconds() as f64 / 86_400.0 * 100.0).round() / 100.0,
        chain,
        chain_valid,
        hostname_valid,
        verify_error: verified.err().map(|e| describe(&e, not_after, name)),
    })
}

/// rustls' verification errors, said the way an operator reads them.
fn describe(e: &rustls::Error, not_after: DateTime<Utc>, name: &ServerName<'_>) -> String {
    let rustls::Error::InvalidCertificate(cert) = e else {
        return e.to_string();
    };
    match cert {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let ago = (Utc::now() - not_after).to_std().unwrap_or_default();
            format!(
                "certificate expired {} ago (not valid after {})",
                human(ago),
                not_after.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not valid yet".to_string()
        }
        CertificateError::UnknownIssuer => {
            "certificate is not signed by a trusted CA (unknown issuer; self-signed?)".to_string()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("certificate is not valid for {}", name.to_str())
        }
        CertificateError::Revoked => "certificate is revoked".to_string(),
        other => format!("invalid certificate: {other:?}"),
    }
}

fn to_utc(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

fn general_name(n: &x509_parser::extensions::GeneralName<'_>) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    match n {
        GeneralName::DNSName(s) => Some(s.to_string()),
        GeneralName::IPAddress(b) => match b.len() {
            4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Some(std::net::Ipv6Addr::from(a).to_string())
            }
            _ => None,
        },
        _ => None,
    }
}
