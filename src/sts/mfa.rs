//! Virtual MFA devices: RFC 6238 time-based one-time passwords (HMAC-SHA-1, 30-second steps,
//! six digits, as AWS's virtual devices and every authenticator app use), with replay refused.
//!
//! Written here rather than taken from a crate: it is fifteen lines over `hmac` and `sha1`,
//! which the gateway already carries, and the RFC's vectors test it.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// Seconds per TOTP step.
pub const STEP_SECS: i64 = 30;
/// Steps either side of now that are accepted, for clocks that drift and codes typed slowly.
const WINDOW: i64 = 1;

/// The HOTP value (RFC 4226) of `secret` at `counter`, to `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The six-digit TOTP code of `secret` at Unix time `now`.
pub fn totp(secret: &[u8], now: i64) -> String {
    format!("{:06}", hotp(secret, (now / STEP_SECS) as u64, 6))
}

/// Why a code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MfaError {
    /// Not six digits.
    #[error("the MFA code must be six digits")]
    Malformed,
    /// Not the device's code now.
    #[error("the MFA code is wrong")]
    Wrong,
    /// The device's code, but already used.
    #[error("the MFA code was already used")]
    Reused,
}

/// Checks codes and remembers the ones used, per device, for as long as they are valid.
/// The memory is per process: replicas each refuse a replay they have seen.
#[derive(Debug, Default)]
pub struct MfaVerifier {
    used: Mutex<HashMap<String, Vec<i64>>>,
}

impl MfaVerifier {
    /// A verifier that has seen no code.
    pub fn new() -> MfaVerifier {
        MfaVerifier::default()
    }

    /// Checks `code` for the device `serial` with `secret` at `now`; on success the code's step
    /// is spent and cannot be used again.
    pub fn check(&self, serial: &str, secret: &[u8], code: &str, now: i64) -> Result<(), MfaError> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MfaError::Malformed);
        }
        let current = now / STEP_SECS;
        let step = (current - WINDOW..=current + WINDOW)
            .find(|&step| {
                let expected = format!("{:06}", hotp(secret, step as u64, 6));
                bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
            })
            .ok_or(MfaError::Wrong)?;
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let spent = used.entry(serial.to_owned()).or_default();
        spent.retain(|&s| s >= current - WINDOW);
        if spent.contains(&step) {
            return Err(MfaError::Reused);
        }
        spent.push(step);
        // Devices with nothing left to remember are dropped, so the map stays small.
        used.retain(|_, steps| !steps.is_empty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        for (time, code) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(RFC_SECRET, (time / 30) as u64, 8), code, "T={time}");
            assert_eq!(totp(RFC_SECRET, time), format!("{:06}", code % 1_000_000));
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), *code);
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_its_window() {
        let v = MfaVerifier::new();
        let now = 1_700_000_000;
        let code = totp(RFC_SECRET, now);
        assert_eq!(v.check("dev", RFC_SECRET, &code, now), Ok(()));
        assert_eq!(
            v.check("dev", RFC_SECRET, &code, now + 1),
            Err(MfaError::Reused)
        );
        // Another device may use the same digits.
        assert_eq!(v.check("other", RFC_SECRET, &code, now), Ok(()));
        // The previous and next steps are accepted, further ones are not.
        let v = MfaVerifier::new();
        assert_eq!(
            v.check("dev", RFC_SECRET, &totp(RFC_SECRET, now - 30), now),
            Ok(())
        );
        assert_eq!(
            v.check("dev", RFC_SECRET, &totp(RFC_SECRET, now + 30), now),
            Ok(())
        );
        assert_eq!(
            v.check("dev", RFC_SECRET, &totp(RFC_SECRET, now - 90), now),
            Err(MfaError::Wrong)
        );
    }

    #[test]
    fn malformed_codes_are_named() {
        let v = MfaVerifier::new();
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(
                v.check("dev", RFC_SECRET, code, 0),
                Err(MfaError::Malformed)
            );
        }
    }

    #[test]
    fn the_demo_seeds_are_160_bits() {
        // RFC 4226 recommends 160 bits, and authenticator libraries (pyotp) refuse seeds
        // under 112: the README's one-liner computes codes from the demo store's seed.
        let demo = include_str!("../../policies/111122223333/mfa.json");
        let devices: Vec<serde_json::Value> = serde_json::from_str(demo).unwrap();
        assert!(!devices.is_empty());
        for device in devices {
            let seed = device["Base32StringSeed"].as_str().unwrap();
            let secret = data_encoding::BASE32_NOPAD.decode(seed.as_bytes()).unwrap();
            assert_eq!(secret.len() * 8, 160, "{seed}");
            assert_eq!(totp(&secret, 0).len(), 6);
        }
    }
}
