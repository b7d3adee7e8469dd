//! Probes for whoever runs the app: liveness and readiness.

use axum::extract::State;

use crate::error::AppError;
use crate::store::AppStore;

/// `GET /healthz`: the process is up (liveness).
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the session store answers (readiness); otherwise `503`
/// `store_unavailable`.
pub async fn readyz(State(store): State<AppStore>) -> Result<&'static str, AppError> {
    if store.is_ready().await {
        Ok("ok")
    } else {
        Err(AppError::StoreUnavailable(
            "readiness check: no answer".into(),
        ))
    }
}
