//! OpenWhisk's names and ids: entity and namespace names, activation ids, transaction ids.

/// Longest entity name (OpenWhisk: 256 characters).
pub const MAX_NAME: usize = 256;

/// Whether `s` is a valid OpenWhisk entity name: `\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`
/// with `\w` = ASCII letters, digits and `_`.
pub fn is_entity_name(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let inner = |c: u8| word(c) || matches!(c, b'@' | b' ' | b'.' | b'&' | b'-');
    let last = |c: u8| word(c) || matches!(c, b'@' | b'.' | b'&' | b'-');
    match b.len() {
        0 => false,
        1 => word(b[0]),
        n if n > MAX_NAME => false,
        n => word(b[0]) && b[1..n - 1].iter().all(|&c| inner(c)) && last(b[n - 1]),
    }
}

/// Checks an entity name from a URL, with OpenWhisk's messages.
pub fn check_entity_name(s: &str) -> Result<(), String> {
    if s.chars().count() > MAX_NAME {
        return Err(format!("Name segement longer than allowed: {} > {MAX_NAME}.", s.chars().count()));
    }
    if !is_entity_name(s) {
        return Err("The name of the entity contains illegal characters.".into());
    }
    Ok(())
}

/// A new activation id: 32 lower-case hex digits (a UUIDv4 without dashes).
pub fn new_activation_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Checks an activation id from a URL, with OpenWhisk's messages.
pub fn check_activation_id(s: &str) -> Result<(), String> {
    if s.len() != 32 {
        return Err(format!("Activation id length is {} but must be 32.", s.chars().count()));
    }
    if !s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return Err("The activation id is not valid.".into());
    }
    Ok(())
}

/// A new transaction id: 32 ASCII letters and digits (OpenWhisk's `X-Request-ID` and the
/// `code` of error bodies).
pub fn new_transaction_id() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_from(ALNUM, 32)
}

/// `n` characters drawn uniformly from `alphabet` with the OS's randomness.
pub fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    // Rejection sampling keeps the draw uniform.
    let limit = 256 - (256 % alphabet.len());
    while out.len() < n {
        getrandom::fill(&mut buf).expect("the OS's random number generator");
        for &b in &buf {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_follow_openwhisk() {
        for ok in ["a", "hello", "my action", "a.b", "x@y", "a-", "_"] {
            assert!(is_entity_name(ok), "{ok}");
        }
        for bad in ["", " a", "a ", "-a", ".a", "a/b", "a?", "ä", &"a".repeat(257)] {
            assert!(!is_entity_name(bad), "{bad}");
        }
        assert!(check_entity_name(&"a".repeat(300)).unwrap_err().contains("300 > 256"));
    }

    #[test]
    fn ids_have_openwhisk_shapes() {
        let a = new_activation_id();
        assert_eq!(check_activation_id(&a), Ok(()));
        assert!(check_activation_id("abc").unwrap_err().contains("length is 3"));
        assert!(check_activation_id(&"G".repeat(32)).is_err());
        let t = new_transaction_id();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, new_transaction_id());
    }
}
