//! Policy documents: parsed, validated as AWS validates them, and compiled, once, at load time.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::arn::{split_arn, ArnPattern};
use super::condition::{kind_of, Condition};
use super::context::Context;
use super::error::PolicyError;
use super::principal::{string_list, Grant, Principal, PrincipalSet};
use super::wildcard::Glob;

/// Where a policy is attached, which decides what its statements must and may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role; also permissions boundaries and session policies.
    /// No `Principal`; `Resource` required.
    Identity,
    /// Attached to a resource (a bucket policy): `Principal` and `Resource` required.
    Resource,
    /// A role's trust policy: `Principal` required, `Resource` not used.
    Trust,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

impl Effect {
    /// `Allow` or `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) name: Arc<str>,
    pub(crate) kind: PolicyKind,
    pub(crate) statements: Vec<Statement>,
}

/// An action pattern list (`Action`) or its complement (`NotAction`).
#[derive(Debug, Clone)]
pub(crate) struct ActionClause {
    pub(crate) not: bool,
    /// Lower-cased patterns.
    pub(crate) patterns: Vec<Glob>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceClause {
    not: bool,
    patterns: Vec<ArnPattern>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalClause {
    not: bool,
    set: PrincipalSet,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sid: Option<Arc<str>>,
    /// Position in the policy, from 0.
    pub(crate) index: usize,
    pub(crate) effect: Effect,
    principal: Option<PrincipalClause>,
    pub(crate) action: ActionClause,
    resource: Option<ResourceClause>,
    conditions: Vec<Condition>,
}

/// An action as the evaluator wants it: lower-cased once, with its service prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    name: String,
    lower: String,
    service_len: usize,
}

impl Action {
    /// An action such as `s3:GetObject`.
    pub fn new(name: &str) -> Action {
        let lower = name.to_ascii_lowercase();
        let service_len = lower.find(':').unwrap_or(lower.len());
        Action {
            name: name.to_owned(),
            lower,
            service_len,
        }
    }

    /// The action as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action, lower-cased.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// The service prefix, lower-cased (`s3`).
    pub fn service(&self) -> &str {
        &self.lower[..self.service_len]
    }
}

impl ActionClause {
    pub(crate) fn matches(&self, action: &Action) -> bool {
        self.patterns.iter().any(|p| p.matches(action.lower())) != self.not
    }
}

impl Statement {
    /// Whether the `Resource` / `NotResource` element covers the request's resource.
    pub(crate) fn resource_matches(
        &self,
        resource: &str,
        segments: Option<&[&str; 6]>,
        ctx: &Context,
    ) -> bool {
        match &self.resource {
            None => true,
            Some(clause) => {
                clause
                    .patterns
                    .iter()
                    .any(|p| p.matches(resource, segments, ctx))
                    != clause.not
            }
        }
    }

    /// How the `Principal` / `NotPrincipal` element covers the caller; `Some(Grant::Direct)`
    /// for statements without one (identity policies). `has_boundary`: the caller has a
    /// permissions boundary.
    pub(crate) fn principal_grant(&self, caller: &Principal, has_boundary: bool) -> Option<Grant> {
        match &self.principal {
            None => Some(Grant::Direct),
            Some(PrincipalClause { not: false, set }) => set.grant_for(caller),
            Some(PrincipalClause { not: true, set }) => match self.effect {
                // AWS: "will always deny any IAM principal that has a permissions boundary
                // policy attached, regardless of the values specified in the NotPrincipal".
                Effect::Deny if has_boundary => Some(Grant::Direct),
                Effect::Deny => (!set.excludes(caller)).then_some(Grant::Direct),
                // Everyone except the listed: never a caller that is listed in any way.
                Effect::Allow => (!set.names_any(caller)).then_some(Grant::Direct),
            },
        }
    }

    /// Whether every condition holds; missing keys are reported to `missing`.
    pub(crate) fn conditions_hold(&self, ctx: &Context, missing: &mut dyn FnMut(&str)) -> bool {
        // Evaluate all of them even after one fails, so that every missing key is reported.
        let mut holds = true;
        for condition in &self.conditions {
            holds &= condition.evaluate(ctx, missing);
        }
        holds
    }
}

/// The elements of a policy document, and of a statement (the analyzer checks them too).
pub(crate) const TOP_LEVEL: &[&str] = &["Version", "Id", "Statement"];
pub(crate) const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Policy {
    /// Gives the policy another name (the one findings and decisions report), as when one
    /// compiled document is shared under several names.
    pub fn set_name(&mut self, name: &str) {
        self.name = Arc::from(name);
    }

    /// Parses, validates and compiles a policy document given as JSON text. The text may also
    /// be URL-encoded JSON, as `aws iam get-account-authorization-details` prints documents.
    pub fn parse(name: &str, kind: PolicyKind, text: &str) -> Result<Policy, PolicyError> {
        let decoded;
        let text = if text.trim_start().starts_with('%') {
            decoded = percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map_err(|_| PolicyError::new(name, "the URL-encoded document is not UTF-8"))?;
            decoded.as_ref()
        } else {
            text
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // Named and placed as the store names a syntax error in its files.
            let (line, column, message) = crate::analyzer::json::describe_syntax_error(text)
                .unwrap_or_else(|| {
                    let message = crate::analyzer::json::serde_message(&e);
                    (e.line(), e.column(), format!("not valid JSON: {message}"))
                });
            PolicyError {
                position: Some((line as u32, column as u32)),
                ..PolicyError::new(name, message)
            }
        })?;
        Policy::from_value(name, kind, &value)
    }

    /// Validates and compiles a policy document already read as JSON.
    pub fn from_value(name: &str, kind: PolicyKind, value: &Value) -> Result<Policy, PolicyError> {
        let err = |msg: String| PolicyError::new(name, msg);
        let Value::Object(doc) = value else {
            return Err(err(format!(
                "a policy must be a JSON object, not {}",
                kind_of(value)
            )));
        };
        if let Some(unknown) = doc.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
            return Err(err(format!(
                "unknown element '{unknown}' (a policy has Version, Id and Statement)"
            ))
            .in_element(unknown));
        }
        let variables = match doc.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(other) => {
                return Err(err(format!(
                    "unknown version {other} (expected \"2012-10-17\" or \"2008-10-17\")"
                ))
                .in_element("Version"))
            }
        };
        match doc.get("Id") {
            None | Some(Value::String(_)) => {}
            Some(other) => {
                return Err(
                    err(format!("Id must be a string, not {}", kind_of(other))).in_element("Id")
                )
            }
        }
        let statements: Vec<&Value> = match doc.get("Statement") {
            None => return Err(err("missing element Statement".into()).in_element("Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(err("Statement is an empty list".into()).in_element("Statement"))
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(other) => {
                return Err(err(format!(
                    "Statement must be an object or a list of objects, not {}",
                    kind_of(other)
                ))
                .in_element("Statement"))
            }
        };
        let mut sids = HashSet::new();
        let mut compiled = Vec::with_capacity(statements.len());
        for (index, statement) in statements.into_iter().enumerate() {
            let located = |e: PolicyError, sid: Option<&str>| PolicyError {
                statement: Some(match sid {
                    Some(sid) => format!("{} (Sid \"{sid}\")", index + 1),
                    None => (index + 1).to_string(),
                }),
                statement_index: Some(index as u32),
                ..e
            };
            let Value::Object(map) = statement else {
                return Err(located(
                    err(format!(
                        "a statement must be an object, not {}",
                        kind_of(statement)
                    )),
                    None,
                ));
            };
            let sid = match map.get("Sid") {
                Some(Value::String(s)) => Some(s.as_str()),
                None => None,
                Some(other) => {
                    return Err(located(
                        err(format!("Sid must be a string, not {}", kind_of(other)))
                            .in_element("Sid"),
                        None,
                    ))
                }
            };
            if let Some(sid) = sid {
                if !sid.is_empty() && !sids.insert(sid) {
                    return Err(located(
                        err(format!("duplicate Sid \"{sid}\"")).in_element("Sid"),
                        Some(sid),
                    ));
                }
            }
            let statement = compile_statement(map, index, kind, variables)
                .map_err(|(element, msg)| located(err(msg).in_element(element), sid))?;
            compiled.push(statement);
        }
        Ok(Policy {
            name: name.into(),
            kind,
            statements: compiled,
        })
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the policy is attached.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// How many statements it has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }
}

type StatementError = (&'static str, String);

fn compile_statement(
    map: &Map<String, Value>,
    index: usize,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, StatementError> {
    if let Some(unknown) = map
        .keys()
        .find(|k| !STATEMENT_ELEMENTS.contains(&k.as_str()))
    {
        return Err((
            "Statement",
            format!("unknown element '{unknown}' in a statement"),
        ));
    }
    let effect = match map.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err((
                "Effect",
                format!("Effect must be \"Allow\" or \"Deny\", not {other}"),
            ))
        }
        None => return Err(("Effect", "missing element Effect".into())),
    };
    let principal = match either(map, "Principal", "NotPrincipal")? {
        None => None,
        Some((element, not, value)) => {
            if kind == PolicyKind::Identity {
                return Err((
                    element,
                    format!("an identity-based policy cannot have {element}"),
                ));
            }
            let set = PrincipalSet::parse(value).map_err(|e| (element, e))?;
            Some(PrincipalClause { not, set })
        }
    };
    if principal.is_none() && kind != PolicyKind::Identity {
        return Err((
            "Principal",
            "a resource-based policy statement needs Principal or NotPrincipal".into(),
        ));
    }
    let action = match either(map, "Action", "NotAction")? {
        None => return Err(("Action", "missing element Action or NotAction".into())),
        Some((element, not, value)) => {
            let patterns = string_list(value)
                .map_err(|e| (element, e))?
                .iter()
                .map(|a| compile_action(a).map_err(|e| (element, e)))
                .collect::<Result<Vec<_>, _>>()?;
            ActionClause { not, patterns }
        }
    };
    let resource = match either(map, "Resource", "NotResource")? {
        None if kind == PolicyKind::Trust => None,
        None => return Err(("Resource", "missing element Resource or NotResource".into())),
        Some((element, not, value)) => {
            let patterns = string_list(value)
                .map_err(|e| (element, e))?
                .iter()
                .map(|r| compile_resource(r, variables).map_err(|e| (element, e)))
                .collect::<Result<Vec<_>, _>>()?;
            Some(ResourceClause { not, patterns })
        }
    };
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(ops)) => {
            let mut out = Vec::new();
            for (operator, block) in ops {
                let Value::Object(keys) = block else {
                    return Err((
                        "Condition",
                        format!(
                            "operator '{operator}' must map condition keys to values, not {}",
                            kind_of(block)
                        ),
                    ));
                };
                if keys.is_empty() {
                    return Err((
                        "Condition",
                        format!("operator '{operator}' names no condition key"),
                    ));
                }
                for (key, value) in keys {
                    let condition = Condition::compile(operator, key, value, variables)
                        .map_err(|e| ("Condition", e.0))?;
                    out.push(condition);
                }
            }
            out
        }
        Some(other) => {
            return Err((
                "Condition",
                format!("Condition must be an object, not {}", kind_of(other)),
            ))
        }
    };
    Ok(Statement {
        sid: map
            .get("Sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Arc::from),
        index,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// The element or its `Not` form; both at once is an error.
fn either<'a>(
    map: &'a Map<String, Value>,
    plain: &'static str,
    not: &'static str,
) -> Result<Option<(&'static str, bool, &'a Value)>, StatementError> {
    match (map.get(plain), map.get(not)) {
        (Some(_), Some(_)) => Err((
            plain,
            format!("a statement cannot have both {plain} and {not}"),
        )),
        (Some(v), None) => Ok(Some((plain, false, v))),
        (None, Some(v)) => Ok(Some((not, true, v))),
        (None, None) => Ok(None),
    }
}

fn compile_action(action: &str) -> Result<Glob, String> {
    if action == "*" {
        return Ok(Glob::Any);
    }
    let Some((service, name)) = action.split_once(':') else {
        return Err(format!(
            "action '{action}' has no service prefix (expected service:action, such as s3:GetObject)"
        ));
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !service_ok || name.is_empty() || name.contains(':') {
        return Err(format!(
            "action '{action}' is not of the form service:action"
        ));
    }
    Ok(Glob::parse(&action.to_ascii_lowercase()))
}

fn compile_resource(resource: &str, variables: bool) -> Result<ArnPattern, String> {
    if resource != "*" && split_arn(resource).is_none() {
        return Err(format!(
            "resource '{resource}' must be an ARN (arn:partition:service:region:account:resource) or \"*\""
        ));
    }
    ArnPattern::parse(resource, variables).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(kind: PolicyKind, doc: Value) -> Result<Policy, PolicyError> {
        Policy::from_value("test", kind, &doc)
    }

    fn refused(kind: PolicyKind, doc: Value, element: &str, fragment: &str) {
        let e = parse(kind, doc).expect_err("must be refused");
        assert_eq!(e.element.as_deref(), Some(element), "{e}");
        assert!(e.to_string().contains(fragment), "'{e}' lacks '{fragment}'");
        assert!(e.to_string().contains("policy 'test'"), "{e}");
    }

    #[test]
    fn accepts_every_shape() {
        let p = parse(
            PolicyKind::Identity,
            json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}),
        )
        .unwrap();
        assert_eq!(p.statement_count(), 1);
        let p = parse(
            PolicyKind::Resource,
            json!({"Version": "2008-10-17", "Id": "x", "Statement": [
                {"Sid": "a", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"},
                 "NotAction": ["s3:Get*"], "NotResource": "arn:aws:s3:::b/*",
                 "Condition": {"Bool": {"aws:SecureTransport": false}}}]}),
        )
        .unwrap();
        assert_eq!(p.statements[0].sid.as_deref(), Some("a"));
        let p = parse(
            PolicyKind::Trust,
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        );
        assert!(p.is_ok());
    }

    #[test]
    fn refuses_what_aws_refuses() {
        use PolicyKind::*;
        let st = |extra: Value| {
            let mut s = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    s.as_object_mut().unwrap().remove(k);
                } else {
                    s[k] = v.clone();
                }
            }
            json!({"Version": "2012-10-17", "Statement": [s]})
        };
        refused(
            Identity,
            st(json!({"Actions": "x"})),
            "Statement",
            "unknown element 'Actions'",
        );
        refused(
            Identity,
            st(json!({"NotAction": "s3:Put*"})),
            "Action",
            "both Action and NotAction",
        );
        refused(
            Identity,
            st(json!({"NotResource": "*"})),
            "Resource",
            "both Resource and NotResource",
        );
        refused(
            Identity,
            st(json!({"Effect": null})),
            "Effect",
            "missing element Effect",
        );
        refused(
            Identity,
            st(json!({"Effect": "Allowed"})),
            "Effect",
            "\"Allow\" or \"Deny\"",
        );
        refused(
            Identity,
            st(json!({"Action": null})),
            "Action",
            "missing element Action",
        );
        refused(
            Identity,
            st(json!({"Resource": null})),
            "Resource",
            "missing element Resource",
        );
        refused(
            Identity,
            st(json!({"Action": "GetObject"})),
            "Action",
            "no service prefix",
        );
        refused(Identity, st(json!({"Action": []})), "Action", "empty");
        refused(
            Identity,
            st(json!({"Resource": "reports/*"})),
            "Resource",
            "must be an ARN",
        );
        refused(
            Identity,
            st(json!({"Principal": "*"})),
            "Principal",
            "identity-based",
        );
        refused(Resource, st(json!({})), "Principal", "needs Principal");
        refused(
            Resource,
            st(json!({"Principal": "*", "NotPrincipal": "*"})),
            "Principal",
            "both Principal and NotPrincipal",
        );
        refused(
            Identity,
            st(json!({"Condition": {"StringEqualz": {"k": "v"}}})),
            "Condition",
            "unknown condition operator 'StringEqualz'",
        );
        refused(
            Identity,
            st(json!({"Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}})),
            "Condition",
            "not a valid date",
        );
        refused(
            Identity,
            st(json!({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}})),
            "Condition",
            "not a valid IP",
        );
        refused(
            Identity,
            st(json!({"Condition": {"NumericLessThan": {"n": "ten"}}})),
            "Condition",
            "not a valid number",
        );
        refused(
            Identity,
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}),
            "Sid",
            "duplicate Sid",
        );
        refused(
            Identity,
            json!({"Version": "2012-10-18", "Statement": []}),
            "Version",
            "unknown version",
        );
        refused(
            Identity,
            json!({"Version": "2012-10-17"}),
            "Statement",
            "missing element Statement",
        );
        refused(
            Identity,
            json!({"Version": "2012-10-17", "Statement": [], "Extra": 1}),
            "Extra",
            "unknown element 'Extra'",
        );
    }

    #[test]
    fn error_names_statement_and_position() {
        let e = Policy::parse("p.json", PolicyKind::Identity, "{\"Version\": \n  [").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2));
        let e = parse(
            PolicyKind::Identity,
            json!({"Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Sid": "Second", "Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
        )
        .unwrap_err();
        assert_eq!(e.statement.as_deref(), Some("2 (Sid \"Second\")"));
    }

    #[test]
    fn url_encoded_documents() {
        let text = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let p = Policy::parse("enc", PolicyKind::Identity, text).unwrap();
        assert_eq!(p.statement_count(), 1);
    }

    #[test]
    fn actions_are_lowercased_at_load() {
        let p = parse(
            PolicyKind::Identity,
            json!({"Statement": {"Effect": "Allow", "Action": "S3:GetObject", "Resource": "*"}}),
        )
        .unwrap();
        assert!(p.statements[0].action.matches(&Action::new("s3:getOBJECT")));
        assert!(!p.statements[0]
            .action
            .matches(&Action::new("s3:GetObjectAcl")));
    }
}
