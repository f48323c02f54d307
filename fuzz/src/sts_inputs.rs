// The STS's inputs from clients: session tokens (opened with the deployment's key), Query
// parameters, and web identity token headers. Nothing panics; a token that opens is one this key
// sealed (the AEAD: a fuzzer cannot forge one), is not expired, and seals and opens again to the
// same claims.

use iamgate::sts::oidc;
use iamgate::sts::{Params, TokenKeys};

/// The fuzzing deployment's sealing key (base64 of 32 bytes 0x2a).
pub const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
/// The clock of the fuzz run.
pub const NOW: i64 = 1_800_000_000;

pub fn check_sts_inputs(data: &[u8]) {
    let keys = TokenKeys::from_base64(&[KEY]).expect("the fuzz key");
    let (head, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    if let Ok(text) = std::str::from_utf8(head) {
        if let Ok(claims) = keys.open(text, NOW) {
            assert!(claims.expires > NOW, "an expired token opened");
            let again = keys.seal(&claims).expect("seal");
            assert_eq!(keys.open(&again, NOW).expect("reopen"), claims);
        }
        let _ = oidc::peek(text);
    }
    let params = Params::parse(rest);
    let _ = params.get("Action");
}
