//! A throw-away certificate authority and certificate helpers for the HTTPS targets.
//!
//! All keys are ECDSA P-256, generated fresh for every [`TestCerts`] (nothing is stored in the
//! repository). Certificates are produced with `rcgen` and returned as PEM strings, ready for
//! [`crate::serve_https`] or for a client's root store.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// Common name of the test CA (also the issuer CN of every leaf it signs).
pub const CA_COMMON_NAME: &str = "upwatch test CA";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A test certificate authority: its certificate (PEM string and file) and the means to sign
/// leaf certificates with it.
///
/// The CA is valid from one year ago until ten years from now. The PEM file lives in a
/// temporary directory that is removed when this struct is dropped.
pub struct TestCerts {
    /// The CA certificate, PEM encoded.
    pub ca_pem: String,
    /// Path of a file containing [`TestCerts::ca_pem`] (inside a temp dir owned by this struct).
    pub ca_file: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    _dir: TempDir,
}

impl fmt::Debug for TestCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCerts")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCerts {
    /// Creates a new CA with common name `"upwatch test CA"` and writes its certificate to
    /// `ca.pem` in a fresh temporary directory.
    ///
    /// # Panics
    ///
    /// Panics if key generation, signing or writing the temp file fails (test-support code).
    pub fn new() -> TestCerts {
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "upwatch testbed");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = (now - 365 * DAY).into();
        params.not_after = (now + 3650 * DAY).into();

        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA certificate");
        let ca_pem = cert.pem();

        let dir = tempfile::Builder::new()
            .prefix("upwatch-testbed-")
            .tempdir()
            .expect("create temp dir for the test CA");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("write test CA PEM file");

        TestCerts {
            ca_pem,
            ca_file,
            issuer: Issuer::new(params, key),
            _dir: dir,
        }
    }

    /// Leaf certificate + private key (both PEM) signed by this CA, for the given SANs and
    /// validity window.
    ///
    /// SAN strings that parse as IP addresses become IP SANs, everything else becomes a DNS
    /// SAN. The subject CN is the first SAN. The leaf has the `serverAuth` extended key usage.
    /// The key is PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Panics
    ///
    /// Panics if a SAN is not a valid IP address or DNS name, or if signing fails.
    pub fn leaf(&self, sans: &[&str], not_before: SystemTime, not_after: SystemTime) -> (String, String) {
        let params = leaf_params(sans, not_before, not_after);
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A self-signed certificate + private key (both PEM), not issued by any CA.
    ///
    /// Same SAN, CN and key-usage rules as [`TestCerts::leaf`]; the issuer is the subject.
    ///
    /// # Panics
    ///
    /// Panics if a SAN is not a valid IP address or DNS name, or if signing fails.
    pub fn self_signed(sans: &[&str], not_before: SystemTime, not_after: SystemTime) -> (String, String) {
        let params = leaf_params(sans, not_before, not_after);
        let key = KeyPair::generate().expect("generate self-signed key");
        let cert = params.self_signed(&key).expect("self-sign certificate");
        (cert.pem(), key.serialize_pem())
    }
}

fn leaf_params(sans: &[&str], not_before: SystemTime, not_after: SystemTime) -> CertificateParams {
    let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("valid subject alternative names");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, sans.first().copied().unwrap_or("upwatch testbed"));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    params
}
