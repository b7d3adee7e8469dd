//! What a listener serves: axum's `Router`, plus the routes a request
//! reaches without it.
//!
//! For each request the router matches the path, puts the match's
//! parameters into the request, clones the route's boxed service and, in
//! the route, the handler's, boxes each of their futures, and sets
//! `Content-Length` in the header map. A direct route is one method on one
//! exact path, with its service (its layers and its handler) built as one
//! type: the request gets a clone of that service and one boxed future,
//! and hyper writes `Content-Length` itself. Everything else, a wrong
//! method or `HEAD` on a direct route's path included, goes to the router
//! as before, so a direct route answers exactly what the router would.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::util::Oneshot;
use tower::{Service, ServiceExt as _};

/// A response on its way, boxed.
type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A route's service, type-erased: called once per request.
type Respond = Arc<dyn Fn(Request) -> Boxed + Send + Sync>;

/// One method on one exact path, answered by its service.
pub struct DirectRoute {
    method: Method,
    path: &'static str,
    respond: Respond,
}

impl DirectRoute {
    /// `method` on `path` (exactly; the query is not part of it), answered
    /// by `service`.
    pub fn new<S>(method: Method, path: &'static str, service: S) -> Self
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        let respond: Respond = Arc::new(move |request| {
            let answer = service.clone().oneshot(request);
            Box::pin(async move {
                match answer.await {
                    Ok(response) => response.into_response(),
                    Err(never) => match never {},
                }
            })
        });
        Self {
            method,
            path,
            respond,
        }
    }
}

/// The router and the direct routes. Cloned per connection.
#[derive(Clone)]
pub struct Routes {
    router: Router,
    direct: Arc<[DirectRoute]>,
}

impl From<Router> for Routes {
    fn from(router: Router) -> Self {
        Self::new(router, Vec::new())
    }
}

impl Routes {
    /// `router`, with `direct` taken before it. The router must answer
    /// each direct route's requests the same way: a direct route is only
    /// a shortcut.
    pub fn new(router: Router, direct: Vec<DirectRoute>) -> Self {
        Self {
            router,
            direct: direct.into(),
        }
    }

    /// The router alone, without the direct routes.
    #[cfg(test)]
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// Answers `request`: by its direct route if there is one, else by the
    /// router.
    pub fn answer(&self, request: Request) -> Answer {
        let direct = self
            .direct
            .iter()
            .find(|route| route.path == request.uri().path() && route.method == request.method());
        match direct {
            Some(route) => Answer::Direct {
                future: (route.respond)(request),
            },
            None => Answer::Routed {
                future: self.router.clone().oneshot(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response to a request, from a direct route or the router.
    #[project = AnswerProjection]
    pub enum Answer {
        Direct { future: Boxed },
        Routed { #[pin] future: Oneshot<Router, Request> },
    }
}

impl Future for Answer {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match self.project() {
            AnswerProjection::Direct { future } => future.as_mut().poll(cx),
            AnswerProjection::Routed { future } => match future.poll(cx) {
                Poll::Ready(Ok(response)) => Poll::Ready(response),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::service_fn;

    /// Who answered `method` on `uri`: the `x-by` header of the reply.
    async fn answered_by(routes: &Routes, method: Method, uri: &str) -> String {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = routes.answer(request).await;
        response.headers()["x-by"].to_str().unwrap().to_owned()
    }

    fn by(name: &'static str) -> ([(&'static str, &'static str); 1], &'static str) {
        ([("x-by", name)], "")
    }

    #[tokio::test]
    async fn a_direct_route_takes_its_method_on_its_exact_path_and_nothing_else() {
        let router = Router::new()
            .route(
                "/data",
                get(|| async { by("router") }).post(|| async { by("router") }),
            )
            .fallback(|| async { by("router") });
        let direct = service_fn(|_: Request| async { Ok::<_, Infallible>(by("direct")) });
        let routes = Routes::new(router, vec![DirectRoute::new(Method::GET, "/data", direct)]);
        assert_eq!(answered_by(&routes, Method::GET, "/data").await, "direct");
        assert_eq!(
            answered_by(&routes, Method::GET, "/data?a=1").await,
            "direct"
        );
        for (method, uri) in [
            (Method::POST, "/data"),
            (Method::HEAD, "/data"),
            (Method::GET, "/data/"),
            (Method::GET, "/dat"),
            (Method::GET, "/data/more"),
            (Method::GET, "/"),
        ] {
            assert_eq!(
                answered_by(&routes, method.clone(), uri).await,
                "router",
                "{method} {uri}"
            );
        }
        let plain = Routes::from(Router::new().fallback(|| async { by("router") }));
        assert_eq!(answered_by(&plain, Method::GET, "/data").await, "router");
    }
}
