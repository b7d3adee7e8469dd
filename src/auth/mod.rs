//! Logging in: the demo's accounts ([`accounts`]), the throttle on failed
//! attempts ([`throttle`]), and what a login body must hold
//! ([`Credentials`]). What a login does to the session (a new id, a new
//! token) is the typed session's `log_in`; this room only says whether
//! the credentials are good.
//!
//! A leaf but for [`crate::error`] and [`crate::limits`]: it knows passwords, not sessions or
//! HTTP.

pub mod accounts;
pub mod throttle;

use std::time::Instant;

use serde_json::Value;

use self::throttle::LoginThrottle;
use crate::error::AppError;
use crate::limits::{MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES};

/// A login body: `{"username": "…", "password": "…", "remember": bool}`
/// (`remember` optional), nothing else.
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub remember: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in a debug line.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Parses a login body: `400 invalid_json` when it is not JSON,
    /// `422 invalid_login` when it is not exactly the documented object.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let value: Value = serde_json::from_slice(body).map_err(AppError::InvalidJson)?;
        let Value::Object(mut fields) = value else {
            return Err(AppError::InvalidLogin);
        };
        let username = take_string(&mut fields, "username", MAX_USERNAME_BYTES)?;
        let password = take_string(&mut fields, "password", MAX_PASSWORD_BYTES)?;
        let remember = match fields.remove("remember") {
            None => false,
            Some(Value::Bool(remember)) => remember,
            Some(_) => return Err(AppError::InvalidLogin),
        };
        if !fields.is_empty() {
            return Err(AppError::InvalidLogin);
        }
        Ok(Self {
            username,
            password,
            remember,
        })
    }
}

fn take_string(
    fields: &mut serde_json::Map<String, Value>,
    name: &str,
    max_bytes: usize,
) -> Result<String, AppError> {
    match fields.remove(name) {
        Some(Value::String(text)) if text.len() <= max_bytes => Ok(text),
        _ => Err(AppError::InvalidLogin),
    }
}

/// Checks credentials, with the throttle. One per app, shared by its
/// requests.
#[derive(Debug, Default)]
pub struct Authenticator {
    throttle: LoginThrottle,
}

impl Authenticator {
    /// `Ok` when the credentials are good; `429 too_many_attempts` while the
    /// username is blocked (checked first, before any hashing), else `401
    /// invalid_credentials`, one answer for an unknown user and a wrong
    /// password. The Argon2 check runs on Tokio's blocking threads.
    pub async fn check(&self, credentials: &Credentials) -> Result<(), AppError> {
        let username = credentials.username.as_str();
        if let Err(wait) = self.throttle.check(username, Instant::now()) {
            return Err(AppError::TooManyAttempts(wait));
        }
        let (name, password) = (username.to_owned(), credentials.password.clone());
        let verified =
            tokio::task::spawn_blocking(move || accounts::verify_password(&name, &password))
                .await
                .map_err(|err| AppError::Internal(format!("password check: {err}")))?;
        if verified {
            self.throttle.record_success(username);
            Ok(())
        } else {
            self.throttle.record_failure(username, Instant::now());
            Err(AppError::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Credentials, AppError> {
        Credentials::parse(text.as_bytes())
    }

    #[test]
    fn a_login_body_is_exactly_username_password_and_maybe_remember() {
        let plain = parse(r#"{"username":"alice","password":"wonderland"}"#).unwrap();
        assert_eq!(plain.username, "alice");
        assert!(!plain.remember);
        let remembered =
            parse(r#"{"username":"bob","password":"builder","remember":true}"#).unwrap();
        assert!(remembered.remember);
    }

    #[test]
    fn anything_else_is_an_invalid_login() {
        let long_name = format!(r#"{{"username":"{}","password":"p"}}"#, "a".repeat(65));
        let long_password = format!(r#"{{"username":"a","password":"{}"}}"#, "p".repeat(1025));
        for body in [
            r#"{"password":"wonderland"}"#,
            r#"{"username":"alice"}"#,
            r#"{"username":1,"password":"wonderland"}"#,
            r#"{"username":"alice","password":null}"#,
            r#"{"username":"alice","password":"w","remember":"yes"}"#,
            r#"{"username":"alice","password":"w","admin":true}"#,
            r#"["alice","wonderland"]"#,
            long_name.as_str(),
            long_password.as_str(),
        ] {
            assert!(matches!(parse(body), Err(AppError::InvalidLogin)), "{body}");
        }
        assert!(parse(&format!(
            r#"{{"username":"{}","password":"p"}}"#,
            "a".repeat(64)
        ))
        .is_ok());
        assert!(matches!(parse("{"), Err(AppError::InvalidJson(_))));
    }
}
