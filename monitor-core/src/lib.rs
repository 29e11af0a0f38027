//! # monitor-core
//!
//! The engine of upwatch, an embeddable monitoring library: one check spec for
//! every language ([`spec`]), the kinds of check ([`checks`]) and the results they
//! produce ([`result`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), monitor_core::spec::SpecError> {
//! use monitor_core::{spec::Spec, Prober};
//! let spec = Spec::from_toml_str(r#"
//!     [[checks]]
//!     name = "home"
//!     kind = "http"
//!     url = "https://example.com/"
//!     [checks.expect]
//!     status = "2xx"
//!     certificate_expires_in = { min = "7d", warn = "14d" }
//! "#)?;
//! let prober = Prober::new();
//! for check in &spec.checks {
//!     let result = prober.run(check).await;
//!     println!("{}", serde_json::to_string(&result).unwrap());
//! }
//! # Ok(()) }
//! ```

pub mod alerts;
pub mod bus;
pub mod checks;
pub mod embed;
pub mod export;
pub mod host;
mod lease;
pub mod monitor;
pub mod result;
mod scheduler;
pub mod spec;
pub mod state;
pub mod store;

pub use bus::{Command, Event, EventKind, Filter};
pub use checks::Prober;
pub use embed::{EmbedError, Embedded, ErrorCode};
pub use host::{HostSampler, HostSnapshot};
pub use monitor::{Monitor, MonitorBuilder, MonitorConfig, MonitorError};
pub use result::{AssertionFailure, CertificateInfo, CheckError, CheckResult, ErrorKind, Observed, Phases, Status};
pub use spec::{CheckKind, CheckSpec, Spec, SpecError};
pub use state::StatusSnapshot;
