//! What the visitor gets: the status and who generated it.

/// Who produced the status the visitor sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratedBy {
    /// The origin's own status was forwarded.
    Origin,
    /// The edge (or proxy) generated an error instead.
    Edge,
}

impl GeneratedBy {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GeneratedBy::Origin => "origin",
            GeneratedBy::Edge => "edge",
        }
    }
}
