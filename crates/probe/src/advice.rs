//! What to do about each cause, read from the one cause table in `originlens-wire`
//! ([`originlens_wire::cause_table`]), so the probe, the keep-alive check and `CAUSES.md` say the
//! same thing.

use originlens_wire::Cause;

/// One piece of advice: what it means and what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advice {
    /// What the cause means for this origin.
    pub meaning: &'static str,
    /// Commands or configuration to apply.
    pub fix: &'static str,
}

/// The advice for `cause`.
pub fn for_cause(cause: Cause) -> Advice {
    let info = cause.info();
    Advice {
        meaning: info.meaning,
        fix: info.fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_specific_advice() {
        for &c in Cause::ALL {
            let a = for_cause(c);
            assert!(!a.fix.is_empty() && !a.meaning.is_empty(), "{c} has no fix");
        }
        assert!(for_cause(Cause::KeepaliveRace).fix.contains("905s"));
    }
}
