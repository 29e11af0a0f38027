//! Exporting the current state to other systems: the Prometheus text format.

pub mod prometheus;
