//! [`VerifiedBody`]: an `http_body::Body` that verifies (and decodes) another body as it streams.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::error::AuthError;
use super::payload::BodyVerifier;

/// Wraps a request body: yields only verified (and, for `aws-chunked`, decoded) data frames, and
/// ends with an [`AuthError`] when the body fails verification, so that a proxy forwarding it
/// aborts the upstream request. Trailers of the inner body are dropped (the `aws-chunked`
/// trailers are in-band and consumed by the verifier).
pub struct VerifiedBody<B> {
    inner: B,
    verifier: BodyVerifier,
    ready: VecDeque<Bytes>,
    scratch: Vec<Bytes>,
    done: bool,
    /// Raw bytes taken from `inner`.
    taken: u64,
    /// Data bytes handed out.
    given: u64,
}

impl<B> VerifiedBody<B> {
    /// Wraps `inner` with `verifier`.
    pub fn new(inner: B, verifier: BodyVerifier) -> Self {
        Self {
            inner,
            verifier,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            done: false,
            taken: 0,
            given: 0,
        }
    }
}

impl<B> Body for VerifiedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = AuthError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, AuthError>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.ready.pop_front() {
                this.given += b.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.taken += data.len() as u64;
                        let r = this.verifier.push(data, &mut this.scratch);
                        this.ready.extend(this.scratch.drain(..));
                        if let Err(e) = r {
                            this.done = true;
                            this.ready.clear();
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.ready.clear();
                    return Poll::Ready(Some(Err(AuthError::BodyRead(e.to_string()))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let r = this.verifier.finish(&mut this.scratch);
                    this.ready.extend(this.scratch.drain(..));
                    if let Err(e) = r {
                        this.ready.clear();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.ready.is_empty()
    }

    /// Exact when it can be known: for `aws-chunked` bodies from `x-amz-decoded-content-length`,
    /// otherwise the inner body's hint plus what the verifier still holds. A proxy can thus
    /// forward a `content-length`.
    fn size_hint(&self) -> SizeHint {
        if self.verifier.is_chunked() {
            return match self.verifier.expected_decoded_len() {
                Some(n) => SizeHint::with_exact(n.saturating_sub(self.given)),
                None => SizeHint::default(),
            };
        }
        if self.done {
            let left: u64 = self.ready.iter().map(|b| b.len() as u64).sum();
            return SizeHint::with_exact(left);
        }
        let buffered = self.taken.saturating_sub(self.given);
        let inner = self.inner.size_hint();
        let mut h = SizeHint::new();
        h.set_lower(inner.lower().saturating_add(buffered));
        if let Some(u) = inner.upper() {
            h.set_upper(u.saturating_add(buffered));
        }
        h
    }
}
