//! The policy store: a folder of accounts, compiled into an immutable [`Snapshot`].
//!
//! ```text
//! policies/
//!   <account-id>/        12 digits; one folder per account
//!     iam.json           what `aws iam get-account-authorization-details` prints
//!     credentials.json   [{"AccessKeyId", "SecretAccessKey", "UserName" | "Root": true, "Status"}]
//!     resources.json     {"<resource ARN>": {"Policy": {...}, "Tags": {"k": "v"}}}
//!     mfa.json           [{"SerialNumber", "UserName", "Base32StringSeed"}]: virtual MFA devices
//!     oidc-providers.json [{"Url", "ClientIDList", "Jwks" | "JwksFile" | "JwksUrl"}]
//! ```

mod files;
mod findings;
mod load;
pub mod position;
mod snapshot;
mod watch;

pub use findings::{has_errors, validate_store, StoreFinding};
pub use load::{load, LoadError, LoadErrors};
pub use snapshot::{
    AccessKey, Identity, JwksSource, KeyOwner, MfaDevice, OidcProvider, Resource, Snapshot, Summary,
};
pub use watch::{watch_debounced, LiveStore, ReloadStats, WatchGuard, DEBOUNCE, RETIRE_WAIT};
