//! How the connection ends reads the same over plain TCP and TLS: raw origin bytes, then FIN,
//! TLS close with or without `close_notify`, RST or silence, through `dial` and `Exchange`.

use std::time::{Duration, Instant};

use originlens_lab::tls::{scripted, Ending, LabPki, TlsCase};
use originlens_net::{
    dial, Endpoint, Exchange, ServerName, Stream, Timeouts, TlsClient, TlsPolicy, TlsTo,
};
use originlens_wire::profile::CLOUDFLARE;
use originlens_wire::{judge, Cause, End, JudgeContext, ReaderOptions};

const READ_TIMEOUT: Duration = Duration::from_millis(400);

/// The cause the edge's judge gives, and how the reader saw the end.
async fn run(reply: &[u8], ending: Ending, pki: Option<&LabPki>) -> (Option<Cause>, Option<End>) {
    let config = pki.map(|p| p.config(TlsCase::Valid).unwrap());
    let addr = scripted(reply.to_vec(), ending, config).await.unwrap();
    let client = TlsClient::new(TlsPolicy {
        mode: originlens_net::SslMode::Full,
        ..TlsPolicy::default()
    })
    .unwrap();
    let name = ServerName::try_from("lab.originlens.test").unwrap();
    let tls = pki.map(|_| TlsTo {
        client: &client,
        name: &name,
    });
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        handshake: None,
    };
    let dialed = dial(&Endpoint::new("127.0.0.1", addr.port()), timeouts, tls)
        .await
        .unwrap();
    assert_eq!(matches!(dialed.stream, Stream::Tls(_)), pki.is_some());
    let mut ex = Exchange::new(
        dialed.stream,
        None,
        ReaderOptions::default(),
        Instant::now(),
        READ_TIMEOUT,
        4096,
    );
    ex.send(
        b"GET / HTTP/1.1\r\nHost: lab.originlens.test\r\n\r\n",
        b"",
        Duration::from_secs(2),
    )
    .await;
    ex.read_to_end().await;
    let report = ex.reader.report();
    let verdict = judge(report, &CLOUDFLARE, JudgeContext::default());
    (verdict.cause, report.end)
}

#[tokio::test]
async fn every_ending_reads_the_same_over_plain_and_tls() {
    let pki = LabPki::generate().unwrap();
    let mid_head: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Len";
    let short_body: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234";
    let complete: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let until_close: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
    use Ending::*;
    let table: &[(&[u8], Ending, Option<Cause>)] = &[
        (b"", Fin, Some(Cause::ResponseEmpty)),
        (b"", CloseNotify, Some(Cause::ResponseEmpty)),
        (b"", Reset, Some(Cause::ResponseReset)),
        (b"", Silence, Some(Cause::ResponseTimeout)),
        (mid_head, Fin, Some(Cause::HeadTruncated)),
        (mid_head, CloseNotify, Some(Cause::HeadTruncated)),
        (mid_head, Reset, Some(Cause::HeadTruncated)),
        (short_body, Fin, Some(Cause::BodyTruncated)),
        (short_body, CloseNotify, Some(Cause::BodyTruncated)),
        (short_body, Silence, Some(Cause::BodyTimeout)),
        (complete, Fin, None),
        (complete, Silence, None),
        (until_close, Fin, None),
        (until_close, CloseNotify, None),
    ];
    let mut wrong = Vec::new();
    for &(reply, ending, expected) in table {
        for tls in [false, true] {
            let (cause, end) = run(reply, ending, tls.then_some(&pki)).await;
            if cause != expected {
                wrong.push(format!(
                    "{:?} + {} over {}: {cause:?} (end {end:?}), expected {expected:?}",
                    String::from_utf8_lossy(reply),
                    ending.name(),
                    if tls { "TLS" } else { "TCP" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
