//! Incidents, alert rules, maintenance windows and notifiers: the subscribers of the bus
//! that turn status changes into something people hear about.
//!
//! - [`incidents`]: down until back up, read from the stored status changes.
//! - [`rules`]: `[[notifiers]]`, `[[alerts]]` and `[[maintenance]]` in the spec shape.
//! - [`engine`]: the rule engine (events in, alerts out): `for`, repeat, resolve,
//!   flapping, certificate thresholds, maintenance and mutes.
//! - [`deliver`]: the outbox and the notifiers (webhook, Slack, Discord, Teams), with
//!   [`email`] (SMTP) and [`brokers`] (NATS, Redis, AMQP).
//! - [`template`]: a notifier's own message, with values escaped for where it goes.

pub mod brokers;
pub mod deliver;
pub mod email;
pub mod engine;
pub mod incidents;
pub mod pull;
pub mod rules;
pub mod template;

pub use engine::{Alert, AlertsStatus, Clock, HostBrief};

use serde::{Deserialize, Serialize};

/// The alerting set-up in force, as [`crate::Monitor::alerting`] shows it: the same shapes
/// in every binding, and no secret.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertingView {
    /// Notifiers, by name.
    pub notifiers: Vec<NotifierView>,
    /// Alert rules, in the order they were added.
    pub rules: Vec<rules::AlertRule>,
    /// Maintenance windows, and whether each is open now.
    pub maintenance: Vec<MaintenanceView>,
    /// Mutes in force.
    pub mutes: Vec<MuteView>,
}

/// Everything about alerting in one answer, for an HTTP endpoint: the delivery counters (as
/// in `status().alerts`, without building the status of every check), the set-up in force
/// and the alerts waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertsReport {
    /// Fired, held, queued, delivered and failed alerts, and the last failure.
    pub status: AlertsStatus,
    /// Notifiers (no secret), rules, maintenance windows and mutes.
    pub alerting: AlertingView,
    /// Alerts waiting in this process's outbox, oldest first.
    pub pending: Vec<deliver::PendingDelivery>,
}

/// A notifier without its URL, secret or headers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifierView {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: rules::NotifierKind,
    /// For `callable`: whether this process registered its function.
    pub function: bool,
    /// Time allowed for one attempt.
    pub timeout_ms: u64,
    /// Attempts before an alert is given up.
    pub max_attempts: u32,
}

/// A maintenance window and whether it is open now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaintenanceView {
    /// The window.
    #[serde(flatten)]
    pub window: rules::MaintenanceWindow,
    /// Whether it is open now.
    pub active: bool,
}

/// A mute in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MuteView {
    /// The check or service muted.
    pub target: String,
    /// How long it still holds.
    pub remaining_ms: u64,
}
