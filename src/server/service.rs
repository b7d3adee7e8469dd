//! The service hyper calls for each request: the app, plus what keeps a
//! keep-alive connection usable whatever the handler did with the body.
//!
//! A handler may answer from the head alone (a wrong method, a foreign
//! `Origin`, no session) and never read the body. hyper then reads what it
//! has already buffered and, if the body is not all there, closes the
//! connection after the response, which said nothing about closing: the
//! client's next request on it fails, and a proxy turns that into a 502.
//! So the body is tapped: after the app answers, whatever the handler left
//! is read and discarded (at most [`MAX_BODY_BYTES`] in all, and only until
//! the request's head clock runs out) before the response goes out. A body
//! that is too large, too slow or broken gets `Connection: close` instead.
//! This one place covers every route, the ones added later included.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response};
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::time::Instant;

use super::clock::ConnectionClock;
use super::routes::Routes;
use crate::limits::MAX_BODY_BYTES;

/// The app, served on one connection.
#[derive(Clone)]
pub(super) struct AppService {
    app: Routes,
    clock: Arc<ConnectionClock>,
}

impl AppService {
    pub(super) fn new(app: Routes, clock: Arc<ConnectionClock>) -> Self {
        Self { app, clock }
    }
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<ClockedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = Response<ClockedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let began = self.clock.head_complete();
        let (parts, incoming) = request.into_parts();
        // Most requests (every GET) have no body: nothing to tap.
        let (body, tap) = if incoming.is_end_stream() {
            (Body::new(incoming), None)
        } else {
            let tap = BodyTap::new(incoming);
            (Body::new(tap.clone()), Some(tap))
        };
        let answer = self.app.answer(Request::from_parts(parts, body));
        let clock = self.clock.clone();
        let drain_until = began + clock.timeouts().head;
        Box::pin(async move {
            let mut response = answer.await;
            let body_read = match tap {
                Some(tap) => tap.drain(drain_until).await,
                None => true,
            };
            if !body_read || clock.draining() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response.map(|body| ClockedBody { body, clock }))
        })
    }
}

/// A response body that tells the connection's clock when hyper is done
/// with it (dropped after its last frame): the connection is then idle.
pub(super) struct ClockedBody {
    body: Body,
    clock: Arc<ConnectionClock>,
}

impl HttpBody for ClockedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ClockedBody {
    fn drop(&mut self) {
        self.clock.response_ended();
    }
}

/// The request body, shared between the handler (which may read it, or
/// not) and the service (which reads what is left).
#[derive(Clone)]
struct BodyTap(Arc<Mutex<Tapped>>);

struct Tapped {
    incoming: Incoming,
    /// Body bytes read so far, by the handler or the drain.
    received: usize,
    ended: bool,
}

impl Tapped {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.incoming).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                self.received += frame.data_ref().map_or(0, Bytes::len);
            }
            Some(Err(_)) => {}
            None => self.ended = true,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.incoming.is_end_stream()
    }
}

impl BodyTap {
    fn new(incoming: Incoming) -> Self {
        Self(Arc::new(Mutex::new(Tapped {
            incoming,
            received: 0,
            ended: false,
        })))
    }

    fn tapped(&self) -> MutexGuard<'_, Tapped> {
        // Never held across a panic that matters: a poisoned lock still
        // guards a whole body.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads and discards what the handler left of the body, until
    /// `deadline` (what has already arrived is read even after it). True
    /// when the whole body has been read; false when it is over the body
    /// limit, broken, or not all there in time.
    async fn drain(&self, deadline: Instant) -> bool {
        let rest = std::future::poll_fn(|cx| self.poll_drain(cx));
        tokio::time::timeout_at(deadline, rest)
            .await
            .unwrap_or(false)
    }

    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut tapped = self.tapped();
        loop {
            if tapped.is_end_stream() {
                return Poll::Ready(true);
            }
            // With a Content-Length, hyper knows exactly what is left.
            let declared = tapped.received as u64 + tapped.incoming.size_hint().lower();
            if declared > MAX_BODY_BYTES as u64 {
                return Poll::Ready(false);
            }
            match ready!(tapped.poll_frame(cx)) {
                Some(Ok(_)) if tapped.received <= MAX_BODY_BYTES => {}
                Some(Ok(_) | Err(_)) => return Poll::Ready(false),
                None => return Poll::Ready(true),
            }
        }
    }
}

impl HttpBody for BodyTap {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.tapped().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.tapped().is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.tapped().incoming.size_hint()
    }
}
