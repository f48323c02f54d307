//! `iamgate validate-policy`: the options and output of `aws accessanalyzer validate-policy`,
//! answered by the gateway's own checks, offline.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::analyzer::{findings_json, validate_policy, Catalog, Finding, PolicyType};

/// `--policy-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PolicyTypeArg {
    /// Attached to a user, group or role.
    IdentityPolicy,
    /// Attached to a resource (a bucket policy), or a role's trust policy.
    ResourcePolicy,
    /// An AWS Organizations service control policy.
    ServiceControlPolicy,
}

/// `--validate-policy-resource-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceTypeArg {
    /// An S3 bucket policy.
    #[value(name = "AWS::S3::Bucket")]
    S3Bucket,
    /// An S3 access point policy.
    #[value(name = "AWS::S3::AccessPoint")]
    S3AccessPoint,
    /// An S3 multi-Region access point policy.
    #[value(name = "AWS::S3::MultiRegionAccessPoint")]
    S3MultiRegionAccessPoint,
    /// An S3 Object Lambda access point policy.
    #[value(name = "AWS::S3ObjectLambda::AccessPoint")]
    S3ObjectLambdaAccessPoint,
    /// A role's trust policy.
    #[value(name = "AWS::IAM::AssumeRolePolicyDocument")]
    AssumeRolePolicyDocument,
    /// A DynamoDB table policy.
    #[value(name = "AWS::DynamoDB::Table")]
    DynamoDbTable,
}

impl ResourceTypeArg {
    fn as_str(self) -> &'static str {
        match self {
            ResourceTypeArg::S3Bucket => "AWS::S3::Bucket",
            ResourceTypeArg::S3AccessPoint => "AWS::S3::AccessPoint",
            ResourceTypeArg::S3MultiRegionAccessPoint => "AWS::S3::MultiRegionAccessPoint",
            ResourceTypeArg::S3ObjectLambdaAccessPoint => "AWS::S3ObjectLambda::AccessPoint",
            ResourceTypeArg::AssumeRolePolicyDocument => crate::analyzer::TRUST_POLICY,
            ResourceTypeArg::DynamoDbTable => "AWS::DynamoDB::Table",
        }
    }
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// `{"findings": [...]}`, as the AWS CLI prints it.
    Json,
    /// One line per finding, for people.
    Text,
}

/// The options of `validate-policy`.
#[derive(Debug, Args)]
pub struct ValidatePolicyArgs {
    /// The policy: inline JSON or file://PATH.
    #[arg(long, value_name = "POLICY")]
    pub policy_document: String,
    /// What the policy is.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub policy_type: PolicyTypeArg,
    /// For a RESOURCE_POLICY, the resource it is for (AWS::IAM::AssumeRolePolicyDocument: a
    /// role's trust policy).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub validate_policy_resource_type: Option<ResourceTypeArg>,
    /// The gateway's configuration, whose route tables declare more actions (iamgate's
    /// addition; ./iamgate.toml when present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub output: Output,
}

/// A problem with the command line or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum ValidatePolicyError {
    /// A file:// argument that cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration does not load.
    #[error("{0}")]
    Config(String),
}

/// The catalog for a command: AWS's reference plus the route tables of `config` (or of
/// ./iamgate.toml when there is one: then it must load).
pub fn catalog(config: Option<&std::path::Path>) -> Result<Catalog, String> {
    let default = std::path::Path::new("iamgate.toml");
    match config {
        Some(path) => crate::config::Config::load(path)
            .map(|c| c.catalog())
            .map_err(|e| e.to_string()),
        None if default.exists() => crate::config::Config::load(default)
            .map(|c| c.catalog())
            .map_err(|e| e.to_string()),
        None => Ok(Catalog::aws()),
    }
}

/// Runs the command; the findings (an empty list when the policy is clean).
pub fn run(args: &ValidatePolicyArgs) -> Result<Vec<Finding>, ValidatePolicyError> {
    let text = match args.policy_document.strip_prefix("file://") {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|source| ValidatePolicyError::Read {
                path: path.to_owned(),
                source,
            })?
        }
        None => args.policy_document.clone(),
    };
    let catalog = catalog(args.config.as_deref()).map_err(ValidatePolicyError::Config)?;
    let policy_type = match args.policy_type {
        PolicyTypeArg::IdentityPolicy => PolicyType::Identity,
        PolicyTypeArg::ResourcePolicy => PolicyType::Resource,
        PolicyTypeArg::ServiceControlPolicy => PolicyType::ServiceControl,
    };
    let resource_type = args
        .validate_policy_resource_type
        .map(ResourceTypeArg::as_str);
    Ok(validate_policy(&text, policy_type, resource_type, &catalog))
}

/// The findings as `--output` asks.
pub fn render(findings: &[Finding], output: Output) -> String {
    match output {
        Output::Json => format!("{:#}\n", findings_json(findings)),
        Output::Text => {
            let mut out = String::new();
            for f in findings {
                let at = f
                    .locations
                    .first()
                    .map(|l| format!("{}:{}", l.start.line, l.start.column + 1))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{at}: {} {} at {}: {}",
                    f.finding_type.as_str(),
                    f.issue_code,
                    f.path_text(),
                    f.details
                );
            }
            if findings.is_empty() {
                out.push_str("no findings\n");
            }
            out
        }
    }
}
