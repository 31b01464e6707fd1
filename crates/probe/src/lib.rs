//! Direct origin probe.
