//! Every policy of the store through the validator ([`crate::analyzer`]): identity policies
//! (managed, inline, boundaries), trust policies and resource policies, each finding placed at
//! its line and column in the store's file.
//!
//! Findings never stop a store from loading: the loader refuses what it cannot evaluate, the
//! validator reports what evaluates other than the author meant (a misspelt action grants
//! nothing).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::analyzer::json::{self, Kind, LineIndex, Node};
use crate::analyzer::{validate_policy, Catalog, Finding, FindingType, PolicyType, TRUST_POLICY};
use crate::policy::is_account_id;

/// A finding in one of the store's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFinding {
    /// The file that holds the policy.
    pub file: PathBuf,
    /// Line and column (from 1) of what the finding is about, in that file.
    pub position: (usize, usize),
    /// The policy, named as the loader names it (an ARN, `<arn> (inline <name>)`, ...).
    pub policy: String,
    /// The finding, its positions relative to the policy document.
    pub finding: Finding,
}

impl fmt::Display for StoreFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, column) = self.position;
        write!(
            f,
            "{}:{line}:{column}: {} {}: policy '{}'",
            self.file.display(),
            self.finding.finding_type.as_str(),
            self.finding.issue_code,
            self.policy
        )?;
        let path = self.finding.path_text();
        if !path.is_empty() {
            write!(f, ", {path}")?;
        }
        write!(f, ": {}", self.finding.details)
    }
}

/// Validates every policy of the store in `dir` (the folders and files the loader reads), in
/// file order. Files that are missing or are not JSON are skipped: the loader reports those.
pub fn validate_store(dir: &Path, catalog: &Catalog) -> Vec<StoreFinding> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut folders = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && is_account_id(&name) && entry.path().is_dir() {
            folders.insert(name, entry.path());
        }
    }
    for path in folders.values() {
        type Walk = for<'a> fn(&'a Node, &mut Vec<Doc<'a>>);
        let walks: [(&str, Walk); 2] = [("iam.json", walk_iam), ("resources.json", walk_resources)];
        for (file, walk) in walks {
            let file = path.join(file);
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Ok(root) = json::parse(&text) else {
                continue;
            };
            let mut docs = Vec::new();
            walk(&root, &mut docs);
            let lines = LineIndex::new(&text);
            for doc in docs {
                validate_document(&file, &text, &lines, &doc, catalog, &mut out);
            }
        }
    }
    out
}

/// Whether any finding is an `ERROR`.
pub fn has_errors(findings: &[StoreFinding]) -> bool {
    findings
        .iter()
        .any(|f| f.finding.finding_type == FindingType::Error)
}

/// A policy document found in a file.
struct Doc<'a> {
    name: String,
    node: &'a Node,
    policy_type: PolicyType,
    trust: bool,
}

fn str_of<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key)?.value.as_str()
}

fn list<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    match node.get(key).map(|m| &m.value.kind) {
        Some(Kind::Array(items)) => items,
        _ => &[],
    }
}

fn walk_iam<'a>(root: &'a Node, docs: &mut Vec<Doc<'a>>) {
    let identity = |name: String, node: &'a Node| Doc {
        name,
        node,
        policy_type: PolicyType::Identity,
        trust: false,
    };
    for policy in list(root, "Policies") {
        let arn = str_of(policy, "Arn").unwrap_or("?");
        let default_id = str_of(policy, "DefaultVersionId");
        let version = list(policy, "PolicyVersionList").iter().find(|v| {
            v.get("IsDefaultVersion")
                .is_some_and(|m| m.value.kind == Kind::Bool(true))
                || (default_id.is_some() && str_of(v, "VersionId") == default_id)
        });
        if let Some(doc) = version.and_then(|v| v.get("Document")) {
            docs.push(identity(arn.to_owned(), &doc.value));
        }
    }
    for (detail_list, policy_list) in [
        ("UserDetailList", "UserPolicyList"),
        ("GroupDetailList", "GroupPolicyList"),
        ("RoleDetailList", "RolePolicyList"),
    ] {
        for owner in list(root, detail_list) {
            let arn = str_of(owner, "Arn").unwrap_or("?");
            if let Some(trust) = owner.get("AssumeRolePolicyDocument") {
                docs.push(Doc {
                    name: format!("{arn} (trust policy)"),
                    node: &trust.value,
                    policy_type: PolicyType::Resource,
                    trust: true,
                });
            }
            for inline in list(owner, policy_list) {
                if let Some(doc) = inline.get("PolicyDocument") {
                    let name = str_of(inline, "PolicyName").unwrap_or("?");
                    docs.push(identity(format!("{arn} (inline {name})"), &doc.value));
                }
            }
        }
    }
}

fn walk_resources<'a>(root: &'a Node, docs: &mut Vec<Doc<'a>>) {
    for member in root.members().unwrap_or_default() {
        if let Some(policy) = member.value.get("Policy") {
            docs.push(Doc {
                name: member.key.clone(),
                node: &policy.value,
                policy_type: PolicyType::Resource,
                trust: false,
            });
        }
    }
}

fn validate_document(
    file: &Path,
    text: &str,
    lines: &LineIndex<'_>,
    doc: &Doc<'_>,
    catalog: &Catalog,
    out: &mut Vec<StoreFinding>,
) {
    let start = lines.position(doc.node.start);
    let resource_type = doc.trust.then_some(TRUST_POLICY);
    let (findings, embedded) = match &doc.node.kind {
        // A document as a string: URL-encoded as the AWS CLI prints it, or JSON text.
        Kind::String(s) => {
            let decoded = if s.trim_start().starts_with('%') {
                match percent_encoding::percent_decode_str(s).decode_utf8() {
                    Ok(d) => d.into_owned(),
                    Err(_) => return,
                }
            } else {
                s.clone()
            };
            (
                validate_policy(&decoded, doc.policy_type, resource_type, catalog),
                false,
            )
        }
        _ => (
            validate_policy(
                &text[doc.node.start..doc.node.end],
                doc.policy_type,
                resource_type,
                catalog,
            ),
            true,
        ),
    };
    for finding in findings {
        // A finding inside a document written as JSON is placed where it is in the file; in a
        // document written as a string, at the string.
        let position = match finding.locations.first() {
            Some(l) if embedded => {
                if l.start.line == 1 {
                    (start.line, start.column + l.start.column + 1)
                } else {
                    (start.line + l.start.line - 1, l.start.column + 1)
                }
            }
            _ => (start.line, start.column + 1),
        };
        out.push(StoreFinding {
            file: file.to_owned(),
            position,
            policy: doc.name.clone(),
            finding,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_placed_in_the_file() {
        let dir = std::env::temp_dir().join(format!("iamgate-findings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("111122223333")).unwrap();
        let iam = r#"{"UserDetailList": [{"UserName": "bob", "Arn": "arn:aws:iam::111122223333:user/bob",
  "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "*"}}}]}]}"#;
        std::fs::write(dir.join("111122223333/iam.json"), iam).unwrap();
        std::fs::write(
            dir.join("111122223333/resources.json"),
            r#"{"arn:aws:s3:::pub": {"Policy": "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%22*%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Apub%2F*%22%7D%7D"}}"#,
        )
        .unwrap();
        let findings = validate_store(&dir, &Catalog::aws());
        let typo = findings
            .iter()
            .find(|f| f.finding.issue_code == "INVALID_ACTION")
            .unwrap();
        let column = iam
            .lines()
            .nth(2)
            .unwrap()
            .find("\"s3:GetObjects\"")
            .unwrap()
            + 1;
        assert_eq!(typo.position, (3, column));
        assert_eq!(typo.policy, "arn:aws:iam::111122223333:user/bob (inline p)");
        assert!(typo.to_string().contains(&format!(
            "iam.json:3:{column}: ERROR INVALID_ACTION: policy 'arn:aws:iam::111122223333:user/bob (inline p)', Statement.Action: The action s3:GetObjects does not exist. Did you mean s3:GetObject?"
        )), "{typo}");
        let codes: Vec<&str> = findings.iter().map(|f| f.finding.issue_code).collect();
        assert!(codes.contains(&"PUBLIC_ACCESS"), "{codes:?}");
        assert!(codes.contains(&"MISSING_VERSION"), "{codes:?}");
        let public = findings
            .iter()
            .find(|f| f.finding.issue_code == "PUBLIC_ACCESS")
            .unwrap();
        assert_eq!(public.position, (1, 33), "placed at the encoded document");
        assert!(has_errors(&findings));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
