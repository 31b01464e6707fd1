//! What the end-to-end tests share: the real binary run and its JSON read, the lab with its CA,
//! the real `originlens edge` started and stopped, curl as the visitor, and the incidents store
//! read back.

// Each test file compiles this module and uses only a part of it.
#![allow(dead_code)]

pub mod cli;
pub mod curl;
pub mod edge;
pub mod net;
pub mod peers;
pub mod tls_lab;
