//! Sizes and durations as nginx, PHP and PHP-FPM write them.

/// The memory page size nginx uses for its `*_buffer_size` defaults ("4k|8k" in the docs:
/// one page). 4 KiB on x86-64 and most arm64 kernels.
pub const PAGE_SIZE: u64 = 4096;

/// Parses an nginx size (`ngx_parse_size`): digits with an optional `k`, `m` or `g` suffix.
pub fn nginx_size(text: &str) -> Option<u64> {
    let (digits, scale) = split_suffix(text, &[('k', 1 << 10), ('m', 1 << 20), ('g', 1 << 30)]);
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// Parses an nginx time (`ngx_parse_time`) into milliseconds: one or more `<n><unit>` parts
/// (`ms`, `s`, `m`, `h`, `d`, `w`, `M`, `y`), a bare number being seconds.
pub fn nginx_millis(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = text[start..i].parse().ok()?;
        let unit_ms: u64 = if text[i..].starts_with("ms") {
            i += 2;
            1
        } else if i == bytes.len() {
            1000
        } else {
            let ms = match bytes[i] {
                b's' => 1000,
                b'm' => 60_000,
                b'h' => 3_600_000,
                b'd' => 86_400_000,
                b'w' => 7 * 86_400_000,
                b'M' => 30 * 86_400_000,
                b'y' => 365 * 86_400_000,
                _ => return None,
            };
            i += 1;
            ms
        };
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
    }
    Some(total)
}

/// Parses a PHP ini size (`memory_limit`): digits with an optional `K`, `M` or `G` suffix; `-1`
/// means unlimited and is returned as `None` by the caller's choice through [`PhpSize`].
pub fn php_size(text: &str) -> Option<PhpSize> {
    let text = text.trim();
    if text == "-1" {
        return Some(PhpSize::Unlimited);
    }
    let (digits, scale) = split_suffix(text, &[('k', 1 << 10), ('m', 1 << 20), ('g', 1 << 30)]);
    Some(PhpSize::Bytes(
        digits.parse::<u64>().ok()?.checked_mul(scale)?,
    ))
}

/// A PHP memory size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhpSize {
    /// `-1`: no limit.
    Unlimited,
    /// A limit in bytes.
    Bytes(u64),
}

/// Parses a PHP-FPM time (`request_terminate_timeout`) into seconds: digits with an optional
/// `s`, `m`, `h` or `d` suffix.
pub fn fpm_seconds(text: &str) -> Option<u64> {
    let (digits, scale) = split_suffix(
        text.trim(),
        &[('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)],
    );
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// Formats bytes the way nginx sizes are usually written (`4k`, `16k`, `1m`, or bytes).
pub fn format_size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}m", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{}k", bytes >> 10)
    } else {
        bytes.to_string()
    }
}

/// Formats milliseconds as seconds for messages (`60s`, `0.5s`).
pub fn format_secs(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{}s", millis as f64 / 1000.0)
    }
}

fn split_suffix<'a>(text: &'a str, units: &[(char, u64)]) -> (&'a str, u64) {
    if let Some(last) = text.chars().last() {
        for &(unit, scale) in units {
            if last.eq_ignore_ascii_case(&unit) {
                return (&text[..text.len() - 1], scale);
            }
        }
    }
    (text, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_sizes() {
        assert_eq!(nginx_size("4k"), Some(4096));
        assert_eq!(nginx_size("32K"), Some(32 * 1024));
        assert_eq!(nginx_size("1m"), Some(1 << 20));
        assert_eq!(nginx_size("512"), Some(512));
        assert_eq!(nginx_size("k"), None);
        assert_eq!(nginx_size("4kb"), None);
    }

    #[test]
    fn nginx_times() {
        assert_eq!(nginx_millis("60"), Some(60_000));
        assert_eq!(nginx_millis("60s"), Some(60_000));
        assert_eq!(nginx_millis("2m"), Some(120_000));
        assert_eq!(nginx_millis("1m30s"), Some(90_000));
        assert_eq!(nginx_millis("500ms"), Some(500));
        assert_eq!(nginx_millis("1h"), Some(3_600_000));
        assert_eq!(nginx_millis("x"), None);
        assert_eq!(nginx_millis(""), None);
    }

    #[test]
    fn php_and_fpm_units() {
        assert_eq!(php_size("256M"), Some(PhpSize::Bytes(256 << 20)));
        assert_eq!(php_size("-1"), Some(PhpSize::Unlimited));
        assert_eq!(php_size("1G"), Some(PhpSize::Bytes(1 << 30)));
        assert_eq!(fpm_seconds("60"), Some(60));
        assert_eq!(fpm_seconds("2m"), Some(120));
        assert_eq!(fpm_seconds("30s"), Some(30));
        assert_eq!(fpm_seconds("abc"), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(4096), "4k");
        assert_eq!(format_size(1 << 20), "1m");
        assert_eq!(format_size(14238), "14238");
        assert_eq!(format_secs(60_000), "60s");
        assert_eq!(format_secs(500), "0.5s");
    }
}
