//! The lab's layer on the main listener's session routes: a request that
//! carries a valid `probe` query parameter is written into the ledger with
//! its path, status and error code, so the page can show what reached the
//! server even when the browser hid the reply from the script. Added from
//! outside, only when the lab is on; the session layer knows nothing of it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};

use super::ledger::{probe_of, valid_probe, Entry, Ledger};
use crate::error::ErrorDetail;

/// Writes probed requests into the ledger (see the module doc).
#[derive(Clone, Debug)]
pub struct RecordProbes {
    ledger: Ledger,
}

impl RecordProbes {
    /// Records into `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

impl<S> Layer<S> for RecordProbes {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Recorded {
            inner,
            ledger: self.ledger.clone(),
        }
    }
}

/// The service of [`RecordProbes`].
#[derive(Clone, Debug)]
pub struct Recorded<S> {
    inner: S,
    ledger: Ledger,
}

impl<S> Service<Request> for Recorded<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin + Send + 'static,
    S::Error: 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Most requests carry no query at all: they pass untouched, with no
        // allocation.
        let Some(probe) = probe_of(req.uri().query()).filter(|probe| valid_probe(probe)) else {
            return RecordFuture::Plain(self.inner.call(req));
        };
        let probe = probe.to_owned();
        let mut entry = Entry::of(req.method(), req.headers());
        entry.path = Some(req.uri().path().to_owned());
        let ledger = self.ledger.clone();
        let answer = self.inner.call(req);
        RecordFuture::Recording(Box::pin(async move {
            let response = answer.await?;
            entry.status = Some(response.status().as_u16());
            entry.code = response
                .extensions()
                .get::<ErrorDetail>()
                .map(ErrorDetail::code);
            ledger.record(&probe, entry);
            Ok(response)
        }))
    }
}

/// The future of [`Recorded`]: the inner one as it is, or the inner one
/// followed by the ledger entry.
pub enum RecordFuture<F, E> {
    /// No probe: nothing to write down.
    Plain(F),
    /// A probe: write the answer down once it is known.
    Recording(Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>),
}

impl<F, E> Future for RecordFuture<F, E>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Plain(future) => Pin::new(future).poll(cx),
            Self::Recording(future) => future.as_mut().poll(cx),
        }
    }
}
