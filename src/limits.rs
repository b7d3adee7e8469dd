//! The limits a learner can run into, each answered with its own error
//! code. A leaf: the error messages, the body extractor, the merge and the
//! lab's echo all read them here.

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest key, at any depth of the data.
pub const MAX_KEY_BYTES: usize = 128;
/// Most top-level keys the session's data may hold.
pub const MAX_TOP_LEVEL_KEYS: usize = 100;
/// Largest the session's data may be, serialized as JSON.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// Longest username a login accepts.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Longest password a login accepts: Argon2 hashes any length, but a
/// megabyte password would only be a way to make the server work.
pub const MAX_PASSWORD_BYTES: usize = 1024;
