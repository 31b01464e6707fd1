//! nginx's value grammars (`src/core/ngx_parse.c`, `ngx_string.c`), so a value is refused here
//! exactly when nginx refuses it: sizes (`4k`, `1m`), offsets (`1g`), times (`1h30m`, `500ms`)
//! and plain numbers, each up to the 64-bit limits nginx checks.

const MAX_INT: i64 = i64::MAX;

/// `ngx_atoi`: decimal digits only, no sign, no overflow.
pub fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// `ngx_parse_size`: digits with an optional `k`/`K` or `m`/`M`.
pub fn size(text: &str) -> Option<i64> {
    scaled(text, &[(b'k', 1 << 10), (b'm', 1 << 20)])
}

/// `ngx_parse_offset`: digits with an optional `k`, `m` or `g` (either case).
pub fn offset(text: &str) -> Option<i64> {
    scaled(text, &[(b'k', 1 << 10), (b'm', 1 << 20), (b'g', 1 << 30)])
}

fn scaled(text: &str, units: &[(u8, i64)]) -> Option<i64> {
    let bytes = text.as_bytes();
    let last = *bytes.last()?;
    let (digits, scale) = match units
        .iter()
        .find(|(unit, _)| last.to_ascii_lowercase() == *unit)
    {
        Some(&(_, scale)) => (&text[..text.len() - 1], scale),
        None => (text, 1),
    };
    let value = number(digits)?;
    if value > MAX_INT / scale {
        return None;
    }
    Some(value * scale)
}

/// `ngx_parse_time`: a sequence of number-unit pairs in decreasing order (`y M w d h m s`, and
/// `ms` unless `seconds`), a bare number meaning seconds; in milliseconds unless `seconds`.
/// Years and months are refused for millisecond values, as nginx refuses them.
pub fn time(text: &str, seconds: bool) -> Option<i64> {
    // Steps in nginx's order; a unit must come after every unit already seen.
    const START: u8 = 0;
    const YEAR: u8 = 1;
    const MONTH: u8 = 2;
    const WEEK: u8 = 3;
    const DAY: u8 = 4;
    const HOUR: u8 = 5;
    const MIN: u8 = 6;
    const SEC: u8 = 7;
    const MSEC: u8 = 8;
    const LAST: u8 = 9;
    let bytes = text.as_bytes();
    let mut step = if seconds { START } else { MONTH };
    let mut valid = false;
    let mut value: i64 = 0;
    let mut total: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            valid = true;
            continue;
        }
        let (next, mut max, mut scale): (u8, i64, i64) = match c {
            b'y' if step == START => (YEAR, MAX_INT / 31_536_000, 31_536_000),
            b'M' if step < MONTH => (MONTH, MAX_INT / 2_592_000, 2_592_000),
            b'w' if step < WEEK => (WEEK, MAX_INT / 604_800, 604_800),
            b'd' if step < DAY => (DAY, MAX_INT / 86_400, 86_400),
            b'h' if step < HOUR => (HOUR, MAX_INT / 3_600, 3_600),
            b'm' if bytes.get(i) == Some(&b's') => {
                if seconds || step >= MSEC {
                    return None;
                }
                i += 1;
                (MSEC, MAX_INT, 1)
            }
            b'm' if step < MIN => (MIN, MAX_INT / 60, 60),
            b's' if step < SEC => (SEC, MAX_INT, 1),
            b' ' if step < SEC => (LAST, MAX_INT, 1),
            _ => return None,
        };
        step = next;
        if step != MSEC && !seconds {
            scale *= 1000;
            max /= 1000;
        }
        if value > max {
            return None;
        }
        total = total.checked_add(value * scale)?;
        value = 0;
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    if !valid {
        return None;
    }
    if !seconds {
        value = value.checked_mul(1000)?;
    }
    total.checked_add(value)
}

/// `ngx_conf_set_flag_slot`: `on` or `off`, in any case.
pub fn flag(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("on") {
        Some(true)
    } else if text.eq_ignore_ascii_case("off") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number("1024"), Some(1024));
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("-1"), None);
        assert_eq!(number("+1"), None);
        assert_eq!(number("1k"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("99999999999999999999"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(size("4k"), Some(4096));
        assert_eq!(size("4K"), Some(4096));
        assert_eq!(size("1m"), Some(1 << 20));
        assert_eq!(size("512"), Some(512));
        assert_eq!(size("4kk"), None);
        assert_eq!(size("1g"), None);
        assert_eq!(size("k"), None);
        assert_eq!(size("4 k"), None);
        assert_eq!(size(""), None);
        assert_eq!(size("9999999999999999999k"), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(offset("1g"), Some(1 << 30));
        assert_eq!(offset("10M"), Some(10 << 20));
        assert_eq!(offset("0"), Some(0));
        assert_eq!(offset("1t"), None);
    }

    #[test]
    fn times_in_milliseconds() {
        assert_eq!(time("60", false), Some(60_000));
        assert_eq!(time("300s", false), Some(300_000));
        assert_eq!(time("500ms", false), Some(500));
        assert_eq!(time("1h30m", false), Some(5_400_000));
        assert_eq!(time("1m 30s", false), Some(90_000));
        assert_eq!(time("1d", false), Some(86_400_000));
        assert_eq!(time("abc", false), None);
        assert_eq!(time("1y", false), None);
        assert_eq!(time("1M", false), None);
        assert_eq!(time("30m1h", false), None);
        assert_eq!(time("5.5s", false), None);
        assert_eq!(time("", false), None);
        assert_eq!(time("s", false), None);
        assert_eq!(time("30 s", false), None);
    }

    #[test]
    fn times_in_seconds() {
        assert_eq!(time("1y", true), Some(31_536_000));
        assert_eq!(time("2M", true), Some(5_184_000));
        assert_eq!(time("75", true), Some(75));
        assert_eq!(time("10ms", true), None);
    }

    #[test]
    fn flags() {
        assert_eq!(flag("on"), Some(true));
        assert_eq!(flag("OFF"), Some(false));
        assert_eq!(flag("yes"), None);
        assert_eq!(flag("1"), None);
    }
}
