//! Value parsers only `load` needs: error rates and URL files (the rest are in `crate::args`).

/// `0.1%` or `0.001`: a share between 0 and 1.
pub fn fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a rate (e.g. 0.1% or 0.001)"))?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("`{s}`: give a rate between 0 and 100%"));
    }
    Ok(v)
}

/// The URLs of a `--urls` file: one per line, blank lines and `#` comments skipped.
pub fn url_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(u, _)| u).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_percent_or_fraction() {
        assert!((fraction("0.1%").unwrap() - 0.001).abs() < 1e-12);
        assert!((fraction("0.02").unwrap() - 0.02).abs() < 1e-12);
        assert!(fraction("150%").is_err());
        assert!(fraction("lots").is_err());
    }

    #[test]
    fn url_files_skip_comments_and_blanks() {
        let urls = url_lines("# routes\nhttp://a/x\n\n  http://a/y  # cart\n");
        assert_eq!(urls, vec!["http://a/x", "http://a/y"]);
    }
}
