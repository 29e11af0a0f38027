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
pub mod rules;
pub mod template;

pub use engine::{Alert, AlertsStatus, Clock, HostBrief};
