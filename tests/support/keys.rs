//! The demo store's users' access keys (`policies/<account>/credentials.json`).

/// alice: an administrator (her group's managed policy `AdminAll`).
pub const ALICE: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);

/// bob: reads `reports`, never `reports/confidential/` (his inline `ReadReports`).
pub const BOB: (&str, &str) = (
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
);

/// carol, of the other account (444455556666).
pub const CAROL: (&str, &str) = (
    "AKIACAROLEXAMPLE0001",
    "EXAMPLEcarolKey/Rv1JWUiiGvjlpBLpWTUqys47",
);

/// A session token as a client sends it (the gateway does not know it).
pub const TOKEN: &str = "FQoGZXIvYXdzEXAMPLESESSIONTOKENVALUE0123456789";
