//! The lab with its TLS and h2 listeners, and its CA in a file for `--ca-file`.

use originlens_lab::LabHandle;

/// A running lab and a file holding its CA certificate.
pub struct Lab {
    /// The lab.
    pub lab: LabHandle,
    /// The lab's CA, PEM.
    pub ca: tempfile::NamedTempFile,
}

/// Starts a lab on 127.0.0.1 and writes its CA to a temporary file.
pub fn lab() -> Lab {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), lab.ca_pem()).unwrap();
    Lab { lab, ca }
}
