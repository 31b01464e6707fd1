//! The visitor's response body: a whole body, or the origin's body streamed as it is read.
//!
//! A streamed body pulls from the upstream exchange only when hyper asks for more, so a slow
//! visitor slows the origin read instead of filling memory. When the origin's body breaks after
//! the head was sent, the body yields an error: hyper then ends the response the way the edge
//! does (a chunked response loses its last chunk, a sized one is cut short and the connection
//! is closed), and the exchange is recorded.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::record::Afterwards;
use originlens_net::Exchange;

/// Why a streamed body ended early.
#[derive(Debug, thiserror::Error)]
#[error("the origin's body broke after the head was sent: {0}")]
pub struct BodyError(pub &'static str);

/// The body of every response the edge sends.
#[derive(Debug)]
pub struct EdgeBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A whole body (`None` once sent).
    Full(Option<Bytes>),
    /// Data the origin sent before its body broke, then one pause (so that hyper flushes the
    /// head and the data), then the error.
    Broken(Option<Bytes>, bool, &'static str),
    /// The origin's body, read as the visitor takes it.
    Stream(Box<Streaming>),
    /// Nothing more.
    Done,
}

impl EdgeBody {
    /// A complete body.
    pub fn full(b: Bytes) -> EdgeBody {
        EdgeBody {
            kind: if b.is_empty() {
                Kind::Done
            } else {
                Kind::Full(Some(b))
            },
        }
    }

    /// Some data, then an error that makes hyper abort the response.
    pub(crate) fn broken(b: Bytes, cause: &'static str) -> EdgeBody {
        EdgeBody {
            kind: Kind::Broken(Some(b).filter(|b| !b.is_empty()), false, cause),
        }
    }

    /// Streams the rest of `ex`; `after` runs once it ends or the visitor goes away.
    pub(crate) fn stream(ex: Box<Exchange>, after: Afterwards) -> EdgeBody {
        EdgeBody {
            kind: Kind::Stream(Box::new(Streaming {
                ex: Some(ex),
                after: Some(after),
                flushed: false,
            })),
        }
    }
}

/// A body being streamed from the origin.
#[derive(Debug)]
pub(crate) struct Streaming {
    ex: Option<Box<Exchange>>,
    after: Option<Afterwards>,
    /// Pending was answered since the last data frame (hyper has flushed).
    flushed: bool,
}

impl Streaming {
    fn finish(&mut self, visitor_got_all: bool) {
        if let (Some(ex), Some(after)) = (self.ex.take(), self.after.take()) {
            after.done(ex, visitor_got_all);
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        // The visitor went away before the end: the connection cannot be reused.
        self.finish(false);
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut self.kind;
        match this {
            Kind::Done => Poll::Ready(None),
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Broken(b, paused, cause) => {
                if let Some(b) = b.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                if !*paused {
                    // hyper writes out what it has buffered when the body is not ready; an
                    // error right away would close the connection before the head is sent.
                    *paused = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let cause = *cause;
                *this = Kind::Done;
                Poll::Ready(Some(Err(BodyError(cause))))
            }
            Kind::Stream(s) => loop {
                let Some(ex) = s.ex.as_mut() else {
                    return Poll::Ready(None);
                };
                if let Some(data) = ex.next_data() {
                    s.flushed = false;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                if ex.reader.is_done() {
                    let report = ex.reader.report();
                    let complete = report.end == Some(originlens_wire::End::Complete);
                    if !complete && !s.flushed {
                        // Let hyper write out the head and data before the error closes.
                        s.flushed = true;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    let cause = crate::record::body_cause(report);
                    s.finish(complete);
                    *this = Kind::Done;
                    return Poll::Ready(if complete {
                        None
                    } else {
                        Some(Err(BodyError(cause)))
                    });
                }
                if ex.poll_step(cx).is_pending() {
                    s.flushed = true;
                    return Poll::Pending;
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Done => SizeHint::with_exact(0),
            Kind::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            _ => SizeHint::default(),
        }
    }
}
