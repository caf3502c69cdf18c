//! ddeutil-workflow's generated ids, reproduced exactly so that contexts match.

use sha2::{Digest, Sha256};

/// The id upstream gives a stage without `id` (when default ids are on), and a
/// matrix strategy: the last 10 decimal digits of the SHA-256 of the text, read as
/// one big integer. `"Sleep"` gives `7972360640`.
#[must_use]
pub fn hash_id(text: &str) -> String {
    const MODULUS: u128 = 10_000_000_000;
    let digest = Sha256::digest(text.as_bytes());
    let rest = digest
        .iter()
        .fold(0u128, |acc, &b| (acc * 256 + u128::from(b)) % MODULUS);
    format!("{rest:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upstream_examples() {
        assert_eq!(hash_id("Sleep"), "7972360640");
        assert_eq!(hash_id("Echo branch01 stage"), "0573477600");
        assert_eq!(hash_id("{'sleep': '1'}"), "2150810470");
    }
}
