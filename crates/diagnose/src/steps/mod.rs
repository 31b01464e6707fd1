//! The runbook's steps, one module each; every step is bounded by its own time limit.

pub mod budget;
pub mod burst;
pub mod config;
pub mod edge;
pub mod exchanges;
pub mod host;
pub mod keepalive;
pub mod logs;
