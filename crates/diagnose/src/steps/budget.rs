//! The head budget: the largest head received against the runbook's 16 KB, the edge's limit,
//! nginx's default upstream buffers and every profile's own limit.

use std::collections::BTreeMap;

use originlens_wire::profile;

use crate::document::{BudgetLimit, FieldSize, HeadBudget};
use crate::steps::exchanges::Probed;

/// The runbook's header budget.
pub const RUNBOOK_BUDGET: usize = 16 * 1024;
/// nginx's default `proxy_buffer_size` / `fastcgi_buffer_size` (one memory page).
pub const NGINX_DEFAULT_BUFFER: usize = 4 * 1024;
/// The seed's raised nginx buffer (`proxy_buffer_size 32k`).
pub const NGINX_RAISED_BUFFER: usize = 32 * 1024;

/// The budget of the largest head among the exchanges; `None` when no head arrived.
pub fn measure(probed: &[Probed]) -> Option<HeadBudget> {
    let (p, head) = probed
        .iter()
        .filter_map(|p| p.exchange.report.head.as_ref().map(|h| (p, h)))
        .max_by_key(|(_, h)| h.len())?;
    let size = head.len();
    let mut by_name: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in &head.fields {
        let name = String::from_utf8_lossy(head.name(f)).to_ascii_lowercase();
        let e = by_name.entry(name).or_default();
        e.0 += f.line.len() + 2;
        e.1 += 1;
    }
    let (set_cookie_bytes, set_cookie_count) = by_name.get("set-cookie").copied().unwrap_or((0, 0));
    let mut largest: Vec<FieldSize> = by_name
        .into_iter()
        .map(|(name, (bytes, count))| FieldSize { name, bytes, count })
        .collect();
    largest.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    largest.truncate(8);
    let mut limits = vec![
        ("runbook budget (16 KB)".to_owned(), RUNBOOK_BUDGET),
        (
            "nginx default proxy/fastcgi_buffer_size".to_owned(),
            NGINX_DEFAULT_BUFFER,
        ),
        (
            "nginx proxy_buffer_size 32k (runbook fix)".to_owned(),
            NGINX_RAISED_BUFFER,
        ),
    ];
    for prof in profile::ALL {
        if let Some(max) = prof.limits.max_head_bytes {
            if !limits.iter().any(|(n, _)| n.starts_with(prof.name)) {
                limits.push((format!("{} head limit", prof.name), max));
            }
        }
    }
    limits.sort_by_key(|(_, b)| *b);
    limits.dedup_by(|a, b| a.0 == b.0);
    Some(HeadBudget {
        exchange: p.label.clone(),
        head_bytes: size,
        set_cookie_count,
        set_cookie_bytes,
        largest_fields: largest,
        limits: limits
            .into_iter()
            .map(|(name, bytes)| BudgetLimit {
                name,
                bytes,
                over: size > bytes,
            })
            .collect(),
    })
}
