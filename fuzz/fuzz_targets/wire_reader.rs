//! The response reader fed at random split points, ended by a random connection event.
//!
//! Input: byte 0 picks the end event and the request (HEAD, CONNECT, upgrade, reused
//! connection), bytes 1..5 pick split points (byte 1 also the framing rules: RFC 9112, nginx
//! 1.22's or HAProxy's), the rest is the response. Checked: no panic; the
//! report is the same as for one-shot feeding; the body data handed out is the same; and a
//! response every profile would hand to the visitor whole reads the same again when its body
//! is re-framed by Content-Length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use originlens_wire::{
    judge, profile, read_all, End, Framing, FramingRules, JudgeContext, Reader, ReaderOptions,
    Report, RequestInfo,
};

fn end_of(b: u8) -> End {
    match b & 3 {
        0 => End::Eof,
        1 => End::Reset,
        2 => End::Timeout,
        _ => End::Complete,
    }
}

fn finish(r: &mut Reader, end: End) {
    match end {
        End::Eof => drop(r.on_eof()),
        End::Reset => drop(r.on_reset()),
        End::Timeout => drop(r.on_timeout()),
        _ => {}
    }
}

fn same(a: &Report, b: &Report) {
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.head, b.head);
    assert_eq!(a.interim, b.interim);
    assert_eq!(a.head_complete, b.head_complete);
    assert_eq!(a.framing, b.framing);
    assert_eq!(a.body, b.body);
    assert_eq!(a.end, b.end);
    assert_eq!(a.bytes, b.bytes);
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 5 {
        return;
    }
    let (ctl, bytes) = input.split_at(5);
    let end = end_of(ctl[0]);
    let opts = ReaderOptions {
        request: RequestInfo {
            head: ctl[0] & 4 != 0,
            connect: ctl[0] & 8 != 0,
            upgrade: ctl[0] & 16 != 0,
        },
        reused_connection: ctl[0] & 32 != 0,
        // Small limits now and then, so the limit paths are reached too.
        max_head_bytes: if ctl[0] & 64 != 0 { 64 } else { 1 << 20 },
        max_body_capture: if ctl[0] & 128 != 0 { 16 } else { 1 << 20 },
        framing: [
            FramingRules::RFC9112,
            profile::NGINX_1_22.framing,
            profile::HAPROXY.framing,
        ][ctl[1] as usize % 3],
    };

    // One shot.
    let mut whole_data = Vec::new();
    let mut r = Reader::new(opts);
    r.feed_with(bytes, &mut |d| whole_data.extend_from_slice(d));
    finish(&mut r, end);
    let whole = r.into_report();
    same(&whole, &read_all(bytes, end, opts));

    // Split at up to four points, in order.
    let mut cuts: Vec<usize> = ctl[1..]
        .iter()
        .map(|&c| (c as usize * bytes.len()) / 255)
        .collect();
    cuts.sort_unstable();
    let mut split_data = Vec::new();
    let mut r = Reader::new(opts);
    let mut at = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        r.feed_with(&bytes[at..cut], &mut |d| split_data.extend_from_slice(d));
        at = cut;
    }
    finish(&mut r, end);
    let split = r.into_report();
    same(&whole, &split);
    assert_eq!(whole_data, split_data);
    assert!(whole.body.data as usize == whole_data.len());
    assert!(whole.body.received <= bytes.len() as u64);

    // Every profile judges without panicking; a warning never decides.
    let mut delivered = true;
    for p in profile::ALL {
        let v = judge(&whole, p, JudgeContext::default());
        if let Some(kind) = v.finding {
            if v.disposition.is_some() {
                assert!(
                    p.disposition(kind).is_decisive(),
                    "{} decided on {kind:?} it does not act on",
                    p.name
                );
            }
        }
        delivered &= v.delivered();
    }

    // Forwardable everywhere: the same head with the body re-framed by Content-Length reads
    // the same status and body.
    if delivered && !opts.request.head && whole.interim.is_empty() {
        let Some(head) = &whole.head else { return };
        if !matches!(
            whole.framing,
            Some(Framing::Length(_) | Framing::Chunked | Framing::CloseDelimited)
        ) {
            return;
        }
        let mut again = head.raw[head.status_line.clone()].to_vec();
        again.extend_from_slice(b"\r\n");
        for f in &head.fields {
            let name = head.name(f);
            if name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding")
                || name.eq_ignore_ascii_case(b"content-encoding")
            {
                continue;
            }
            again.extend_from_slice(&head.raw[f.line.clone()]);
            again.extend_from_slice(b"\r\n");
        }
        again.extend_from_slice(format!("Content-Length: {}\r\n\r\n", whole_data.len()).as_bytes());
        again.extend_from_slice(&whole_data);
        let mut data = Vec::new();
        let mut r = Reader::new(ReaderOptions::default());
        r.feed_with(&again, &mut |d| data.extend_from_slice(d));
        let re = r.into_report();
        assert_eq!(re.status(), whole.status());
        assert_eq!(re.framing, Some(Framing::Length(whole_data.len() as u64)));
        assert!(re.body.complete);
        assert_eq!(data, whole_data);
    }
});
