//! Origin log reader.
