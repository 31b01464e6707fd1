//! Parsing the stable names of the small enums back (`"edge"`, `"eof"`, `"warning"`), for
//! records read from a store or a file.

use std::fmt;
use std::str::FromStr;

use crate::finding::Severity;
use crate::outcome::GeneratedBy;
use crate::reader::End;

/// The error returned when a string is not one of a type's stable names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being parsed (`"end"`).
    pub what: &'static str,
    /// The string that was not a name.
    pub value: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.what, self.value)
    }
}

impl std::error::Error for UnknownName {}

macro_rules! by_name {
    ($ty:ident, $what:literal, [$($variant:ident),* $(,)?]) => {
        impl $ty {
            /// Every value, for parsing and listing.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName { what: $what, value: s.to_owned() })
            }
        }
    };
}

by_name!(GeneratedBy, "generated-by", [Origin, Edge]);
by_name!(
    End,
    "end",
    [Complete, Eof, Reset, Timeout, HeadLimit, Fatal]
);
by_name!(Severity, "severity", [Info, Warning, Error]);

// `Severity` has its `Display` beside it; these two are shown here.
macro_rules! display_by_name {
    ($($ty:ident),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so that `{:<6}` lines up table columns.
                f.pad(self.as_str())
            }
        }
    )*};
}

display_by_name!(GeneratedBy, End);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_errors() {
        for &g in GeneratedBy::ALL {
            assert_eq!(g.to_string().parse::<GeneratedBy>().unwrap(), g);
        }
        for &e in End::ALL {
            assert_eq!(e.as_str().parse::<End>().unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{e}\""));
            assert_eq!(serde_json::from_str::<End>(&json).unwrap(), e);
        }
        for s in ["info", "warning", "error"] {
            assert_eq!(s.parse::<Severity>().unwrap().as_str(), s);
        }
        let err = "Edge".parse::<GeneratedBy>().unwrap_err();
        assert_eq!(err.to_string(), "unknown generated-by `Edge`");
        assert!("".parse::<End>().is_err());
        assert_eq!(format!("[{:<6}]", GeneratedBy::Edge), "[edge  ]");
    }
}
