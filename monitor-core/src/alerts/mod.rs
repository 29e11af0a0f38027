//! Incidents, and (next) alert rules, maintenance windows and notifiers: the subscribers
//! of the bus that turn status changes into something people hear about.

pub mod incidents;
