//! The files of an account folder, in the shapes AWS prints them.
//!
//! `iam.json` is what `aws iam get-account-authorization-details` prints; fields iamgate does not
//! use are accepted and ignored, so that a real export drops in unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A policy document as it stands in the file: its JSON text, parsed when it is compiled (on
/// every CPU, see the loader) rather than while the whole export is read.
pub type Document = Box<serde_json::value::RawValue>;

/// `iam.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamExport {
    /// Users.
    #[serde(default)]
    pub user_detail_list: Vec<UserDetail>,
    /// Groups.
    #[serde(default)]
    pub group_detail_list: Vec<GroupDetail>,
    /// Roles.
    #[serde(default)]
    pub role_detail_list: Vec<RoleDetail>,
    /// Managed policies with their versions.
    #[serde(default)]
    pub policies: Vec<ManagedPolicyDetail>,
}

/// A user.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    /// The user's name.
    pub user_name: String,
    /// The user's unique id (`AIDA...`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The user's ARN.
    pub arn: String,
    /// Inline policies.
    #[serde(default)]
    pub user_policy_list: Vec<InlinePolicy>,
    /// Names of the groups the user is in.
    #[serde(default)]
    pub group_list: Vec<String>,
    /// Attached managed policies.
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    /// The permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<Boundary>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    /// The group's name.
    pub group_name: String,
    /// The group's ARN.
    pub arn: String,
    /// Inline policies.
    #[serde(default)]
    pub group_policy_list: Vec<InlinePolicy>,
    /// Attached managed policies.
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

/// A role.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    /// The role's name.
    pub role_name: String,
    /// The role's unique id (`AROA...`).
    #[serde(default)]
    pub role_id: Option<String>,
    /// The role's ARN.
    pub arn: String,
    /// The trust policy: who may assume the role.
    pub assume_role_policy_document: Document,
    /// Inline policies.
    #[serde(default)]
    pub role_policy_list: Vec<InlinePolicy>,
    /// Attached managed policies.
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    /// The permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<Boundary>,
    /// The longest session, in seconds.
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A managed policy and its versions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
    /// The policy's ARN.
    pub arn: String,
    /// Which version is in force.
    pub default_version_id: Option<String>,
    /// The versions.
    #[serde(default)]
    pub policy_version_list: Vec<PolicyVersion>,
}

/// One version of a managed policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// The document: a JSON object or a URL-encoded JSON string.
    pub document: Document,
    /// `v1`, `v2`, ...
    pub version_id: String,
    /// Whether this is the version in force.
    #[serde(default)]
    pub is_default_version: bool,
}

/// An inline policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    /// The policy's name.
    pub policy_name: String,
    /// The document: a JSON object or a URL-encoded JSON string.
    pub policy_document: Document,
}

/// A managed policy attached to a principal or group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    /// The policy's ARN.
    pub policy_arn: String,
}

/// A permissions boundary.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Boundary {
    /// The managed policy used as the boundary.
    pub permissions_boundary_arn: String,
}

/// A tag.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One entry of `credentials.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CredentialEntry {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The user the key belongs to.
    #[serde(default)]
    pub user_name: Option<String>,
    /// `true` for the account's root user.
    #[serde(default)]
    pub root: bool,
    /// `Active` or `Inactive`.
    #[serde(default = "active")]
    pub status: String,
}

fn active() -> String {
    "Active".into()
}

crate::redact::debug_without_secrets!(CredentialEntry {
    access_key_id,
    user_name,
    root,
    status
});

/// One entry of `resources.json`, keyed by the resource's ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResourceEntry {
    /// The resource-based policy.
    #[serde(default)]
    pub policy: Option<Document>,
    /// The resource's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One entry of `mfa.json`: a virtual MFA device, as `aws iam create-virtual-mfa-device`
/// prints it (`SerialNumber`, `Base32StringSeed`) with the user it is enabled for.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MfaEntry {
    /// The device's ARN: `arn:aws:iam::ACCOUNT:mfa/NAME`.
    pub serial_number: String,
    /// The user the device is enabled for.
    pub user_name: String,
    /// The TOTP secret, base32.
    pub base32_string_seed: String,
    /// When it was enabled (accepted and ignored).
    #[serde(rename = "EnableDate", default)]
    _enable_date: serde::de::IgnoredAny,
}

crate::redact::debug_without_secrets!(MfaEntry {
    serial_number,
    user_name
});

/// One entry of `oidc-providers.json`: what `aws iam get-open-id-connect-provider` prints,
/// with where the provider's signing keys come from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OidcProviderEntry {
    /// The issuer, with or without `https://`.
    pub url: String,
    /// The audiences (client ids) accepted.
    #[serde(rename = "ClientIDList", default)]
    pub client_id_list: Vec<String>,
    /// Certificate thumbprints (accepted and ignored: keys come from the JWKS).
    #[serde(rename = "ThumbprintList", default)]
    _thumbprint_list: serde::de::IgnoredAny,
    #[serde(rename = "CreateDate", default)]
    _create_date: serde::de::IgnoredAny,
    #[serde(rename = "Tags", default)]
    _tags: serde::de::IgnoredAny,
    /// The JSON Web Key Set, inline.
    #[serde(default)]
    pub jwks: Option<Value>,
    /// A file holding the JSON Web Key Set, relative to the account folder.
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// A URL serving the JSON Web Key Set, fetched and refreshed by the gateway.
    #[serde(default)]
    pub jwks_url: Option<String>,
}
