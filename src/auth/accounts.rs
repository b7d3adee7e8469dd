//! The demo's two accounts, kept as a user table keeps them: the username
//! and an Argon2id hash of the password in PHC string form
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), never the password itself.
//!
//! **Parameters.** m=19456 KiB (19 MiB), t=2, p=1: OWASP's minimum for
//! Argon2id, and the `argon2` crate's default. A check then takes tens of
//! milliseconds (the crate is built optimized in debug builds too, see
//! `Cargo.toml`), which keeps the tests quick and still makes each guess
//! cost a password cracker that much memory and time. The parameters
//! travel inside each PHC string, so raising them later needs no code.
//!
//! **One answer, one duration.** An unknown username is checked against
//! [`DUMMY_HASH`], so "no such user" takes as long as "wrong password":
//! the time of an answer does not tell which usernames exist.

use argon2::{Argon2, PasswordHash, PasswordVerifier as _};

/// `alice` / `wonderland`.
const ALICE: &str = "$argon2id$v=19$m=19456,t=2,p=1$FifWnToy5qSfnW9R8vgx1Q$nSVW3jOg7V7MKkCce3/fA9UjOdRwdR3LDU4JjC3yS/I";
/// `bob` / `builder`.
const BOB: &str = "$argon2id$v=19$m=19456,t=2,p=1$WwEaH3DugayipDJyyeziYg$DXaBeLx92EqfUr+WcOuA7vcijRd3v58hXoBCpp3W9Xs";
/// The hash of a random password no one knows, with the same parameters:
/// what an unknown username is checked against.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$26rD1Iqucrc/W+EaLLI6OA$lSrt7UghCfhW6gkJDT8T6NQ6GoY7okIEHOZsSabpOyE";

/// The accounts: username and PHC string.
const ACCOUNTS: [(&str, &str); 2] = [("alice", ALICE), ("bob", BOB)];

/// True when `username` names an account and `password` is its password.
/// Blocking (Argon2 takes tens of milliseconds of CPU): call it from
/// `spawn_blocking`, never on an async thread.
pub fn verify_password(username: &str, password: &str) -> bool {
    let account = ACCOUNTS.iter().find(|(name, _)| *name == username);
    let phc = account.map_or(DUMMY_HASH, |(_, phc)| phc);
    let matches = matches_hash(password, phc);
    // The dummy hash is checked for its time only.
    account.is_some() && matches
}

fn matches_hash(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(err) => {
            tracing::error!(%err, "a stored password hash does not parse");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_verifies_with_its_password_only() {
        assert!(verify_password("alice", "wonderland"));
        assert!(verify_password("bob", "builder"));
        assert!(!verify_password("alice", "builder"));
        assert!(!verify_password("bob", "Builder"));
        assert!(!verify_password("carol", "wonderland"));
    }

    #[test]
    fn every_hash_is_argon2id_with_the_documented_parameters() {
        for phc in [ALICE, BOB, DUMMY_HASH] {
            let hash = PasswordHash::new(phc).unwrap();
            assert_eq!(hash.algorithm.as_str(), "argon2id");
            let params = argon2::Params::try_from(&hash).unwrap();
            assert_eq!(
                (params.m_cost(), params.t_cost(), params.p_cost()),
                (19_456, 2, 1)
            );
        }
    }

    /// Prints fresh PHC strings for the accounts and the dummy hash: how
    /// the constants above were made (`cargo test -- --ignored
    /// print_fresh_hashes --nocapture`).
    #[test]
    #[ignore = "a tool, not a check"]
    fn print_fresh_hashes() {
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        use rand::Rng as _;
        let dummy: String = crate::token::random_token::<32>();
        for password in ["wonderland", "builder", dummy.as_str()] {
            let salt_bytes: [u8; 16] = rand::rng().random();
            let salt = SaltString::encode_b64(&salt_bytes).unwrap();
            let phc = Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .unwrap();
            println!("{phc}");
        }
    }
}
