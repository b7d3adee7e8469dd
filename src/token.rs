//! Unguessable tokens: a session's CSRF token, a Redis lock's owner.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

/// `BYTES` random bytes from the thread's CSPRNG, as URL-safe base64 without
/// padding: safe in a header, an HTML attribute and a Redis argument.
pub fn random_token<const BYTES: usize>() -> String {
    let mut bytes = [0u8; BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_carry_all_their_bits() {
        let (one, two) = (random_token::<32>(), random_token::<32>());

        assert_ne!(one, two);
        // 32 bytes are 43 base64 characters without padding.
        assert_eq!(one.len(), 43);
        assert_eq!(random_token::<16>().len(), 22);
    }
}
