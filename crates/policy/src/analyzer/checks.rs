//! The checks, in the order of Access Analyzer's policy check reference: the grammar (errors),
//! what exists (actions, condition keys), then patterns that allow more than meant (security
//! warnings), best practices (warnings) and style (suggestions).

use std::collections::HashMap;

use super::catalog::{Catalog, ServiceKnowledge};
use super::json::{self, Kind, LineIndex, Member, Node};
use super::{Finding, FindingType, Location, PathElement, PolicyType, TRUST_POLICY};
use crate::Glob;

use FindingType::{Error, SecurityWarning, Suggestion, Warning};

/// This validator's own issue code: a resource policy that lets anyone in. Access Analyzer reports
/// public access through its access previews and `CheckNoPublicAccess`, not `ValidatePolicy`.
pub const PUBLIC_ACCESS: &str = "PUBLIC_ACCESS";

use crate::{STATEMENT_ELEMENTS as STATEMENT, TOP_LEVEL};
const PRINCIPAL_KEYS: &[&str] = &["AWS", "CanonicalUser", "Federated", "Service"];

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Condition keys that narrow who a public statement admits.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalisawsservice",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcevpcarn",
    "aws:vpcsourceip",
    "aws:userid",
    "aws:username",
    "aws:resourceaccount",
];

/// Actions whose misspelling Access Analyzer explains: the API's name is not the action's.
const API_NAMES: &[(&str, &str, &str)] =
    &[("s3:listbuckets", "ListBuckets", "s3:ListAllMyBuckets")];

/// A statement's list elements (`Action`, `Resource`) and their findings when missing or empty.
struct ListElement {
    plain: &'static str,
    not: &'static str,
    missing: (&'static str, &'static str),
    empty: (&'static str, &'static str),
}

const ACTION: ListElement = ListElement {
    plain: "Action",
    not: "NotAction",
    missing: (
        "MISSING_ACTION",
        "Add an Action or NotAction element to the policy statement.",
    ),
    empty: (
        "EMPTY_ARRAY_ACTION",
        "This statement includes no actions and does not affect the policy. Specify actions.",
    ),
};

const RESOURCE: ListElement = ListElement {
    plain: "Resource",
    not: "NotResource",
    missing: (
        "MISSING_RESOURCE",
        "Add a Resource or NotResource element to the policy statement.",
    ),
    empty: (
        "EMPTY_ARRAY_RESOURCE",
        "This statement includes no resources and does not affect the policy. Specify resources.",
    ),
};

struct Checker<'a> {
    text: &'a str,
    lines: LineIndex<'a>,
    policy_type: PolicyType,
    trust: bool,
    catalog: &'a Catalog,
    findings: Vec<(usize, Finding)>,
}

/// A path and the bytes it covers.
type Place = (Vec<PathElement>, usize, usize);

pub(super) fn run(
    text: &str,
    policy_type: PolicyType,
    resource_type: Option<&str>,
    catalog: &Catalog,
) -> Vec<Finding> {
    let mut c = Checker {
        text,
        lines: LineIndex::new(text),
        policy_type,
        trust: resource_type == Some(TRUST_POLICY),
        catalog,
        findings: Vec::new(),
    };
    match json::parse(text) {
        Ok(root) => c.policy(&root),
        Err(e) => {
            let p = c.lines.position(e.offset);
            c.add(
                Error,
                "JSON_SYNTAX_ERROR",
                format!(
                    "Fix the JSON syntax error at index {} line {} column {}: {}.",
                    p.offset, p.line, p.column, e.message
                ),
                vec![(Vec::new(), e.offset, (e.offset + 1).min(text.len()))],
            );
        }
    }
    let mut findings = c.findings;
    findings.sort_by_key(|(at, f)| (*at, f.finding_type));
    findings.into_iter().map(|(_, f)| f).collect()
}

fn push(path: &[PathElement], e: PathElement) -> Vec<PathElement> {
    let mut p = path.to_vec();
    p.push(e);
    p
}

fn value(path: &[PathElement], key: &str) -> Vec<PathElement> {
    push(path, PathElement::Value(key.to_owned()))
}

/// A node's place.
fn at(path: Vec<PathElement>, node: &Node) -> Place {
    (path, node.start, node.end)
}

/// The strings of a string-or-list element, with their places; non-strings are reported.
struct Item<'a> {
    text: &'a str,
    place: Place,
}

impl Checker<'_> {
    fn add(&mut self, ty: FindingType, code: &'static str, details: String, places: Vec<Place>) {
        let first = places.first().map_or(0, |p| p.1);
        let locations = places
            .into_iter()
            .map(|(path, start, end)| Location {
                path,
                start: self.lines.position(start),
                end: self.lines.position(end),
            })
            .collect();
        self.findings.push((
            first,
            Finding {
                finding_type: ty,
                issue_code: code,
                details,
                locations,
            },
        ));
    }

    fn mismatch(&mut self, expected: &str, place: Place) {
        self.add(
            Error,
            "DATA_TYPE_MISMATCH",
            format!("The text does not match the expected JSON data type {expected}."),
            vec![place],
        );
    }

    fn policy(&mut self, root: &Node) {
        let Some(members) = root.members() else {
            self.mismatch("Object", at(Vec::new(), root));
            return;
        };
        for m in members {
            if !TOP_LEVEL.contains(&m.key.as_str()) {
                self.invalid_element(&[], m);
            }
        }
        match root.get("Version") {
            None => self.add(
                Warning,
                "MISSING_VERSION",
                "We recommend that you specify the Version element to help you with debugging permission issues.".into(),
                vec![(Vec::new(), root.start, (root.start + 1).min(root.end))],
            ),
            Some(m) => match m.value.as_str() {
                Some("2012-10-17") | Some("2008-10-17") => {}
                Some(v) => self.add(
                    Error,
                    "INVALID_VERSION",
                    format!("The version {v} is not valid. Use one of the following versions: 2012-10-17, 2008-10-17."),
                    vec![at(value(&[], "Version"), &m.value)],
                ),
                None => self.mismatch("String", at(value(&[], "Version"), &m.value)),
            },
        }
        if let Some(m) = root.get("Id") {
            if m.value.as_str().is_none() {
                self.mismatch("String", at(value(&[], "Id"), &m.value));
            }
        }
        let Some(statement) = root.get("Statement") else {
            self.add(
                Error,
                "MISSING_STATEMENT",
                "Add a statement to the policy".into(),
                vec![(Vec::new(), root.start, (root.start + 1).min(root.end))],
            );
            return;
        };
        let base = value(&[], "Statement");
        let statements: Vec<(Vec<PathElement>, &Node)> = match &statement.value.kind {
            Kind::Array(items) if items.is_empty() => {
                self.add(
                    Error,
                    "MISSING_STATEMENT",
                    "Add a statement to the policy".into(),
                    vec![at(base, &statement.value)],
                );
                return;
            }
            Kind::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (push(&base, PathElement::Index(i)), n))
                .collect(),
            Kind::Object(_) => vec![(base, &statement.value)],
            _ => {
                self.mismatch("Array", at(base, &statement.value));
                return;
            }
        };
        let mut sids: HashMap<&str, usize> = HashMap::new();
        let mut seen: Vec<(serde_json::Value, usize)> = Vec::new();
        for (i, (path, node)) in statements.iter().enumerate() {
            if node.members().is_none() {
                self.mismatch("Object", at(path.clone(), node));
                continue;
            }
            if let Some(sid) = node.get("Sid") {
                if let Some(s) = sid.value.as_str() {
                    if !s.is_empty() && sids.insert(s, i).is_some() {
                        let place = at(value(path, "Sid"), &sid.value);
                        if self.policy_type == PolicyType::Identity {
                            self.add(Error, "UNIQUE_SIDS_REQUIRED", "Duplicate statement IDs are not supported for this policy type. Update the Sid value.".into(), vec![place]);
                        } else {
                            self.add(Warning, "UNIQUE_SIDS_RECOMMENDED", "We recommend that you use statement IDs that are unique to your policy. Update the Sid value.".into(), vec![place]);
                        }
                    }
                }
            }
            // Identical statements (the Sid aside).
            if let Ok(serde_json::Value::Object(mut v)) =
                serde_json::from_str::<serde_json::Value>(&self.text[node.start..node.end])
            {
                v.remove("Sid");
                let v = serde_json::Value::Object(v);
                if seen.iter().any(|(other, _)| *other == v) {
                    self.add(
                        Suggestion,
                        "REDUNDANT_STATEMENT",
                        "The statements are redundant because they provide identical permissions. Update the policy to remove the redundant statement.".into(),
                        vec![at(path.clone(), node)],
                    );
                } else {
                    seen.push((v, i));
                }
            }
            self.statement(path, node);
        }
    }

    fn invalid_element(&mut self, path: &[PathElement], m: &Member) {
        self.add(
            Error,
            "INVALID_POLICY_ELEMENT",
            format!("The policy element {} is not valid.", m.key),
            vec![(
                push(path, PathElement::Key(m.key.clone())),
                m.key_start,
                m.key_end,
            )],
        );
    }

    /// The element or its `Not` form.
    fn either<'n>(
        &mut self,
        path: &[PathElement],
        node: &'n Node,
        plain: &'static str,
        not: &'static str,
    ) -> Option<(&'static str, &'n Node)> {
        match (node.get(plain), node.get(not)) {
            (Some(p), Some(n)) => {
                self.add(
                    Error,
                    "UNSUPPORTED_ELEMENT_COMBINATION",
                    format!("The policy elements {plain} and {not} can not be used in the same statement. Remove one of these elements."),
                    vec![
                        (push(path, PathElement::Key(plain.into())), p.key_start, p.key_end),
                        (push(path, PathElement::Key(not.into())), n.key_start, n.key_end),
                    ],
                );
                Some((plain, &p.value))
            }
            (Some(p), None) => Some((plain, &p.value)),
            (None, Some(n)) => Some((not, &n.value)),
            (None, None) => None,
        }
    }

    /// A string or a list of strings; `None` (reported) for anything else.
    /// `Action`/`NotAction` or `Resource`/`NotResource`: its items and whether it is the `Not`
    /// form. A statement with neither is an error where `missing_is_error`.
    fn list_element<'n>(
        &mut self,
        path: &[PathElement],
        node: &'n Node,
        element: &ListElement,
        missing_is_error: bool,
    ) -> Option<(bool, Vec<Item<'n>>)> {
        let Some((name, n)) = self.either(path, node, element.plain, element.not) else {
            if missing_is_error {
                let (code, message) = element.missing;
                self.add(Error, code, message.into(), vec![at(path.to_vec(), node)]);
            }
            return None;
        };
        let items = self.strings(value(path, name), n, element.empty)?;
        Some((name == element.not, items))
    }

    fn strings<'n>(
        &mut self,
        path: Vec<PathElement>,
        node: &'n Node,
        empty: (&'static str, &'static str),
    ) -> Option<Vec<Item<'n>>> {
        match &node.kind {
            Kind::String(s) => Some(vec![Item {
                text: s,
                place: at(path, node),
            }]),
            Kind::Array(items) if items.is_empty() => {
                self.add(Suggestion, empty.0, empty.1.into(), vec![at(path, node)]);
                Some(Vec::new())
            }
            Kind::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = push(&path, PathElement::Index(i));
                    match item.as_str() {
                        Some(s) => out.push(Item {
                            text: s,
                            place: at(p, item),
                        }),
                        None => self.mismatch("String", at(p, item)),
                    }
                }
                Some(out)
            }
            _ => {
                self.mismatch("Array", at(path, node));
                None
            }
        }
    }

    fn statement(&mut self, path: &[PathElement], node: &Node) {
        let members = node.members().unwrap_or_default();
        let whole = at(path.to_vec(), node);
        for m in members {
            if !STATEMENT.contains(&m.key.as_str()) {
                self.invalid_element(path, m);
            }
        }
        if let Some(sid) = node.get("Sid") {
            match sid.value.as_str() {
                None => self.mismatch("String", at(value(path, "Sid"), &sid.value)),
                Some("") => self.add(
                    Suggestion,
                    "EMPTY_SID_VALUE",
                    "Add a value to the empty string in the Sid element.".into(),
                    vec![at(value(path, "Sid"), &sid.value)],
                ),
                Some(s) => {
                    if self.policy_type == PolicyType::Identity
                        && !s.bytes().all(|b| b.is_ascii_alphanumeric())
                    {
                        self.add(Error, "UNSUPPORTED_SID", "Update the characters in the Sid element to use one of the following character types: [a-z, A-Z, 0-9]".into(), vec![at(value(path, "Sid"), &sid.value)]);
                    }
                }
            }
        }
        let allow = match node.get("Effect") {
            None => {
                self.add(
                    Error,
                    "MISSING_EFFECT",
                    "Add an Effect element to the policy statement with a value of Allow or Deny."
                        .into(),
                    vec![whole.clone()],
                );
                None
            }
            Some(m) => match m.value.as_str() {
                Some("Allow") => Some(true),
                Some("Deny") => Some(false),
                Some(other) => {
                    self.add(
                        Error,
                        "INVALID_EFFECT",
                        format!("The effect {other} is not valid. Use Allow or Deny."),
                        vec![at(value(path, "Effect"), &m.value)],
                    );
                    None
                }
                None => {
                    self.mismatch("String", at(value(path, "Effect"), &m.value));
                    None
                }
            },
        };
        let allow = allow == Some(true);

        // Principal.
        let principal = self.either(path, node, "Principal", "NotPrincipal");
        match (principal, self.policy_type) {
            (Some((element, _)), PolicyType::Identity) => {
                let m = node.get(element).expect("present");
                self.add(
                    Error,
                    "UNSUPPORTED_PRINCIPAL",
                    format!("The policy type IDENTITY_POLICY does not support the {element} element. Remove the {element} element."),
                    vec![(push(path, PathElement::Key(element.into())), m.key_start, m.key_end)],
                );
            }
            (Some((element, _)), PolicyType::ServiceControl) => {
                let m = node.get(element).expect("present");
                self.add(
                    Error,
                    "SCP_SYNTAX_ERROR_PRINCIPAL",
                    "SCPs do not support specifying principals. Remove the Principal or NotPrincipal element.".into(),
                    vec![(push(path, PathElement::Key(element.into())), m.key_start, m.key_end)],
                );
            }
            (None, PolicyType::Resource) => self.add(
                Error,
                "MISSING_PRINCIPAL",
                "Add a Principal element to the policy statement.".into(),
                vec![whole.clone()],
            ),
            (Some((element, value_node)), PolicyType::Resource) => {
                self.principal(path, element, value_node);
                if allow && element == "NotPrincipal" {
                    self.add(
                        SecurityWarning,
                        "ALLOW_WITH_NOT_PRINCIPAL",
                        "Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.".into(),
                        vec![at(value(path, "NotPrincipal"), value_node)],
                    );
                }
            }
            _ => {}
        }

        // Action.
        let actions = self.list_element(path, node, &ACTION, true);
        if let Some((not, items)) = &actions {
            for item in items {
                self.action(item);
                if self.policy_type == PolicyType::ServiceControl {
                    let wild = item.text.find(['*', '?']);
                    if wild.is_some_and(|w| w + 1 != item.text.len()) {
                        self.add(Error, "SCP_SYNTAX_ERROR_ACTION_WILDCARD", format!("SCP actions can include wildcards (*) only at the end of a string. Update {}.", item.text), vec![item.place.clone()]);
                    }
                }
            }
            if !*not {
                self.redundant(items, "REDUNDANT_ACTION", |a, b| {
                    glob(&a.to_ascii_lowercase(), &b.to_ascii_lowercase())
                });
            } else if allow && self.policy_type == PolicyType::ServiceControl {
                let m = node.get("NotAction").expect("present");
                self.add(Error, "SCP_SYNTAX_ERROR_ALLOW_NOT_ACTION", "SCPs do not support NotAction with effect Allow. Update the element NotAction or the effect.".into(), vec![at(value(path, "NotAction"), &m.value)]);
            }
        }

        // Resource.
        let missing_is_error = self.policy_type == PolicyType::Identity;
        let resources = self.list_element(path, node, &RESOURCE, missing_is_error);
        if let Some((not, items)) = &resources {
            for item in items {
                self.resource(item);
            }
            if *not && self.policy_type == PolicyType::ServiceControl {
                let m = node.get("NotResource").expect("present");
                self.add(Error, "SCP_SYNTAX_ERROR_NOT_RESOURCE", "SCPs do not support the NotResource element. Update the policy to use Resource instead.".into(), vec![at(value(path, "NotResource"), &m.value)]);
            }
            if !*not {
                self.redundant(items, "REDUNDANT_RESOURCE", glob);
            }
        }

        // Condition.
        let keys = match node.get("Condition") {
            None => Vec::new(),
            Some(m) => self.condition(&value(path, "Condition"), &m.value),
        };
        if allow
            && self.policy_type == PolicyType::ServiceControl
            && node.get("Condition").is_some()
        {
            let m = node.get("Condition").expect("present");
            self.add(Error, "SCP_SYNTAX_ERROR_ALLOW_CONDITION", "SCPs do not support the Condition element with effect Allow. Update the element Condition or the effect.".into(), vec![at(value(path, "Condition"), &m.value)]);
        }

        if let Some((not_action, actions)) = &actions {
            if !*not_action {
                self.unsupported_actions_for_keys(actions, &keys);
            }
            if allow && self.policy_type == PolicyType::Identity {
                if let Some((not_resource, resources)) = &resources {
                    let passed_to_service = keys.iter().any(|k| k.lower == "iam:passedtoservice");
                    if !passed_to_service {
                        self.sensitive(
                            &SENSITIVE[0],
                            node,
                            path,
                            *not_action,
                            actions,
                            *not_resource,
                            resources,
                        );
                    }
                    self.sensitive(
                        &SENSITIVE[1],
                        node,
                        path,
                        *not_action,
                        actions,
                        *not_resource,
                        resources,
                    );
                }
            }
            if allow && self.policy_type == PolicyType::Resource && !*not_action {
                self.mismatched_federation(path, node, actions);
            }
        }
        if allow && self.policy_type == PolicyType::Resource && !self.trust {
            self.public(path, node, &keys);
        }
    }

    fn principal(&mut self, path: &[PathElement], element: &str, node: &Node) {
        let p = value(path, element);
        match &node.kind {
            Kind::String(s) if s == "*" => {}
            Kind::String(_) => self.add(
                Error,
                "INVALID_PRINCIPAL_FORMAT",
                "The Principal element contents are not valid. Specify a key-value pair in the Principal element.".into(),
                vec![at(p, node)],
            ),
            Kind::Object(members) if members.is_empty() => self.add(
                Suggestion,
                "EMPTY_OBJECT_PRINCIPAL",
                "This statement includes no principals and does not affect the policy. Specify principals.".into(),
                vec![at(p, node)],
            ),
            Kind::Object(members) => {
                for m in members {
                    if !PRINCIPAL_KEYS.contains(&m.key.as_str()) {
                        self.add(
                            Error,
                            "INVALID_PRINCIPAL_KEY",
                            format!("The principal key {} is not valid.", m.key),
                            vec![(push(&p, PathElement::Key(m.key.clone())), m.key_start, m.key_end)],
                        );
                        continue;
                    }
                    let _ = self.strings(
                        value(&p, &m.key),
                        &m.value,
                        ("EMPTY_ARRAY_PRINCIPAL", "This statement includes no principals and does not affect the policy. Specify principals."),
                    );
                }
            }
            _ => self.mismatch("Object", at(p, node)),
        }
    }

    fn action(&mut self, item: &Item) {
        let a = item.text;
        if a == "*" {
            return;
        }
        let Some((service, name)) = a.split_once(':') else {
            self.add(
                Error,
                "INVALID_ACTION",
                format!("The action {a} does not exist."),
                vec![item.place.clone()],
            );
            return;
        };
        if service.contains(['*', '?']) {
            return;
        }
        let service_lower = service.to_ascii_lowercase();
        let name_lower = name.to_ascii_lowercase();
        match self.catalog.service(&service_lower) {
            ServiceKnowledge::Unknown => self.add(
                Error,
                "INVALID_SERVICE_IN_ACTION",
                format!("The service {service} specified in the action does not exist."),
                vec![item.place.clone()],
            ),
            ServiceKnowledge::Exists => {}
            ServiceKnowledge::Known => {
                let exists = if name.contains(['*', '?']) {
                    !self
                        .catalog
                        .actions_matching(&service_lower, {
                            let pattern = Glob::parse(&name_lower);
                            move |n| pattern.matches(n)
                        })
                        .is_empty()
                } else {
                    self.catalog.has_action(&service_lower, &name_lower)
                };
                if exists {
                    return;
                }
                let full = format!("{service_lower}:{name_lower}");
                let details = if let Some((_, api, action)) =
                    API_NAMES.iter().find(|(lower, _, _)| *lower == full)
                {
                    format!("The action {a} does not exist. Did you mean {action}? The API called {api} authorizes against the IAM action {action}.")
                } else if let Some(s) = (!name.contains(['*', '?']))
                    .then(|| self.catalog.suggest_action(&service_lower, &name_lower))
                    .flatten()
                {
                    format!("The action {a} does not exist. Did you mean {s}?")
                } else {
                    format!("The action {a} does not exist.")
                };
                self.add(Error, "INVALID_ACTION", details, vec![item.place.clone()]);
            }
        }
    }

    fn resource(&mut self, item: &Item) {
        if let Some((ty, code, details)) = resource_finding(item.text) {
            self.add(ty, code, details, vec![item.place.clone()]);
        }
    }

    /// Items made redundant by an identical or wider item of the same list.
    fn redundant(
        &mut self,
        items: &[Item],
        code: &'static str,
        covers: impl Fn(&str, &str) -> bool,
    ) {
        for (i, item) in items.iter().enumerate() {
            let wider = items.iter().enumerate().find(|(j, other)| {
                *j != i
                    && covers(other.text, item.text)
                    // Of two identical items, the second is the redundant one.
                    && (!covers(item.text, other.text) || *j < i)
            });
            if let Some((_, other)) = wider {
                let details = if code == "REDUNDANT_ACTION" {
                    format!("The action(s) are redundant because they provide similar permissions. Update the policy to remove the redundant action such as: {}.", item.text)
                } else {
                    format!("The resource ARN(s) are redundant because they reference the same resource. Review the use of wildcards (*): {} covers {}.", other.text, item.text)
                };
                self.add(Suggestion, code, details, vec![item.place.clone()]);
            }
        }
    }

    fn condition(&mut self, path: &[PathElement], node: &Node) -> Vec<ConditionKey> {
        let mut keys = Vec::new();
        let Some(operators) = node.members() else {
            self.mismatch("Object", at(path.to_vec(), node));
            return keys;
        };
        if operators.is_empty() {
            self.add(
                Suggestion,
                "EMPTY_OBJECT_CONDITION",
                "This condition block is empty and it does not affect the policy. Specify conditions.".into(),
                vec![at(path.to_vec(), node)],
            );
        }
        for op in operators {
            let op_path = value(path, &op.key);
            let (qualifier, rest) = match op.key.split_once(':') {
                Some((q @ ("ForAllValues" | "ForAnyValue"), rest)) => (Some(q), rest),
                _ => (None, op.key.as_str()),
            };
            let (base, if_exists) = match rest.strip_suffix("IfExists") {
                Some(b) => (b, true),
                None => (rest, false),
            };
            let op_place = (
                push(path, PathElement::Key(op.key.clone())),
                op.key_start,
                op.key_end,
            );
            if !OPERATORS.contains(&base) {
                self.add(
                    Error,
                    "INVALID_CONDITION_OPERATOR",
                    format!(
                        "The condition operator {} is not valid. Use a valid condition operator.",
                        op.key
                    ),
                    vec![op_place],
                );
                continue;
            }
            if base == "Null" && if_exists {
                self.add(Error, "NULL_WITH_IF_EXISTS", "The Null condition operator cannot be used with the IfExists suffix. Update the operator or the suffix.".into(), vec![op_place.clone()]);
            }
            if base == "Null" && qualifier.is_some() {
                self.add(Suggestion, "NULL_WITH_QUALIFIER", "Avoid using the Null condition operator with the ForAllValues or ForAnyValue qualifiers because they always return a true or false respectively.".into(), vec![op_place.clone()]);
            }
            let Some(members) = op.value.members() else {
                self.mismatch("Object", at(op_path, &op.value));
                continue;
            };
            let mut lowered: HashMap<String, &str> = HashMap::new();
            for m in members {
                let key_place = (
                    push(&op_path, PathElement::Key(m.key.clone())),
                    m.key_start,
                    m.key_end,
                );
                let value_place = at(value(&op_path, &m.key), &m.value);
                let lower = m.key.to_ascii_lowercase();
                if let Some(other) = lowered.insert(lower.clone(), &m.key) {
                    if other != m.key {
                        self.add(Error, "DUPLICATE_KEYS_WITH_DIFFERENT_CASE", format!("The condition key {} appears more than once with different capitalization in the same condition block. Remove the duplicate condition keys.", m.key), vec![key_place.clone()]);
                    }
                }
                let values: Vec<&Node> = match &m.value.kind {
                    Kind::Array(items) => items.iter().collect(),
                    _ => vec![&m.value],
                };
                if values.is_empty() {
                    let (code, details) = match (qualifier, if_exists) {
                        (Some("ForAllValues"), _) => ("EMPTY_ARRAY_CONDITION_FORALLVALUES", "The ForAllValues prefix with an empty condition key matches only if the key is missing from the request context. To determine if the request context is empty, we recommend that you use the Null condition operator with the value of true instead."),
                        (Some(_), _) => ("EMPTY_ARRAY_CONDITION_FORANYVALUE", "The ForAnyValue prefix with an empty condition key never matches the request context and it does not affect the policy. Specify conditions."),
                        (None, true) => ("EMPTY_ARRAY_CONDITION_IFEXISTS", "The IfExists suffix with an empty condition key matches only if the key is missing from the request context. To determine if the request context is empty, we recommend that you use the Null condition operator with the value of true instead."),
                        (None, false) => ("EMPTY_ARRAY_CONDITION", "There are no values for the condition key and it does not affect the policy. Specify conditions."),
                    };
                    self.add(Suggestion, code, details.into(), vec![value_place.clone()]);
                }
                let ty = self.condition_key(&m.key, &lower, key_place.clone());
                if let Some(ty) = ty {
                    if qualifier == Some("ForAllValues") && !ty.is_multivalued() {
                        self.add(SecurityWarning, "FORALLVALUES_WITH_SINGLE_VALUED_KEY", format!("Using ForAllValues qualifier with the single-valued condition key {} can be overly permissive. We recommend that you remove ForAllValues:.", m.key), vec![key_place.clone()]);
                    }
                    if let Some(expected) = operator_type_mismatch(base, ty.base(), &lower) {
                        self.add(Warning, "TYPE_MISMATCH", format!("Use the operator type {expected} instead of operator {} for the condition key {}.", op.key, m.key), vec![op_place.clone()]);
                    }
                }
                if matches!(
                    base,
                    "StringEquals"
                        | "StringNotEquals"
                        | "StringEqualsIgnoreCase"
                        | "StringNotEqualsIgnoreCase"
                ) {
                    if let Some(v) = values.iter().find(|v| v.as_str().is_some_and(has_wildcard)) {
                        self.add(Warning, "WILDCARD_WITHOUT_LIKE_OPERATOR", "Your condition value includes a * or ? character. If you meant to use a wildcard (*, ?), update the condition operator to include Like.".into(), vec![at(value(&op_path, &m.key), v)]);
                    }
                }
                keys.push(ConditionKey {
                    name: m.key.clone(),
                    lower,
                    place: value_place,
                });
            }
        }
        keys
    }

    /// Checks that a condition key exists; its type when known.
    fn condition_key(
        &mut self,
        key: &str,
        lower: &str,
        place: Place,
    ) -> Option<&'static super::KeyType> {
        let Some((prefix, name)) = lower.split_once(':') else {
            self.add(
                Error,
                "INVALID_CONDITION_KEY_FORMAT",
                "The condition key format is not valid. Use the format service:keyname.".into(),
                vec![place],
            );
            return None;
        };
        if prefix == "aws" {
            if lower == "aws:arn" {
                self.add(Warning, "DEPRECATED_GLOBAL_CONDITION_KEY", "We recommend that you update aws:ARN to use the newer condition keys aws:PrincipalArn or aws:SourceArn.".into(), vec![place]);
                return None;
            }
            let tag_family = ["principaltag", "requesttag", "resourcetag"];
            if tag_family.contains(&name.trim_end_matches('/')) {
                self.add(Error, "MISSING_TAG_KEY_IN_CONDITION", "The condition key must include a tag key to control access based on tags. Use the format tag-key and specify a key name for tag-key.".into(), vec![place]);
                return None;
            }
            return match self.catalog.global_key(lower) {
                Some(ty) => Some(ty),
                None => {
                    self.add(
                        Error,
                        "INVALID_GLOBAL_CONDITION_KEY",
                        format!(
                            "The condition key {key} does not exist. Use a valid condition key."
                        ),
                        vec![place],
                    );
                    None
                }
            };
        }
        if let Some(ty) = self.catalog.key(lower) {
            return Some(ty);
        }
        let service = &key[..prefix.len()];
        match self.catalog.service(prefix) {
            ServiceKnowledge::Known if self.catalog.is_reference_service(prefix) => self.add(
                Error,
                "INVALID_SERVICE_CONDITION_KEY",
                format!("The condition key {key} does not exist in the service {service}."),
                vec![place],
            ),
            // A web identity provider's keys (`token.actions.githubusercontent.com:sub`).
            ServiceKnowledge::Unknown if !prefix.contains('.') => self.add(
                Error,
                "INVALID_SERVICE",
                format!("The service {service} does not exist. Use a valid service name."),
                vec![place],
            ),
            _ => {}
        }
        None
    }

    /// Actions of the statement the reference does not list a service condition key for.
    fn unsupported_actions_for_keys(&mut self, actions: &[Item], keys: &[ConditionKey]) {
        for key in keys {
            if key.lower.starts_with("aws:") || self.catalog.key(&key.lower).is_none() {
                continue;
            }
            let mut unsupported: Vec<&Item> = Vec::new();
            for item in actions {
                let Some((service, name)) = item.text.split_once(':') else {
                    continue;
                };
                let (service, name) = (service.to_ascii_lowercase(), name.to_ascii_lowercase());
                let supported = if name.contains(['*', '?']) {
                    let pattern = Glob::parse(&name);
                    let matched = self
                        .catalog
                        .actions_matching(&service, |n| pattern.matches(n));
                    if matched.is_empty() {
                        continue;
                    }
                    matched.iter().any(|a| {
                        let n = a.split_once(':').map_or("", |x| x.1).to_ascii_lowercase();
                        self.catalog.action_supports_key(&service, &n, &key.lower) != Some(false)
                    })
                } else {
                    match self
                        .catalog
                        .action_supports_key(&service, &name, &key.lower)
                    {
                        Some(s) => s,
                        None => continue,
                    }
                };
                if !supported {
                    unsupported.push(item);
                }
            }
            if unsupported.is_empty() {
                continue;
            }
            let names: Vec<&str> = unsupported.iter().map(|i| i.text).collect();
            let mut places: Vec<Place> = unsupported.iter().map(|i| i.place.clone()).collect();
            places.push(key.place.clone());
            self.add(
                Error,
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                format!("The following actions: {} are not supported by the condition key {}. The condition will not be evaluated for these actions. We recommend that you move these actions to a different statement without this condition key.", names.join(", "), key.name),
                places,
            );
        }
    }

    /// `iam:PassRole` and `iam:CreateServiceLinkedRole` granted too widely.
    #[allow(clippy::too_many_arguments)]
    fn sensitive(
        &mut self,
        s: &Sensitive,
        node: &Node,
        path: &[PathElement],
        not_action: bool,
        actions: &[Item],
        not_resource: bool,
        resources: &[Item],
    ) {
        let explicit = actions
            .iter()
            .find(|a| a.text.eq_ignore_ascii_case(s.action));
        let star = actions.iter().find(|a| {
            a.text.contains(['*', '?'])
                && glob(&a.text.to_ascii_lowercase(), &s.action.to_ascii_lowercase())
        });
        let star_resource = resources.iter().find(|r| {
            r.text == "*"
                || r.text.rsplit_once('/').is_some_and(|(_, last)| last == "*")
                    && r.text.contains(s.resource_marker)
        });
        let not_excludes = not_action
            && actions
                .iter()
                .any(|a| glob(&a.text.to_ascii_lowercase(), &s.action.to_ascii_lowercase()));
        let element = |name: &str| {
            node.get(name)
                .map(|m| at(value(path, name), &m.value))
                .expect("present")
        };
        let (code, places) = match (not_action, not_resource) {
            (false, false) => match (explicit, star, star_resource) {
                (Some(a), _, Some(r)) => (s.codes[0], vec![a.place.clone(), r.place.clone()]),
                (None, Some(a), Some(r)) => (s.codes[1], vec![a.place.clone(), r.place.clone()]),
                _ => return,
            },
            (false, true) => match (explicit, star) {
                (Some(a), _) => (s.codes[2], vec![a.place.clone(), element("NotResource")]),
                (None, Some(a)) => (s.codes[3], vec![a.place.clone(), element("NotResource")]),
                _ => return,
            },
            (true, true) if !not_excludes => (
                s.codes[4],
                vec![element("NotAction"), element("NotResource")],
            ),
            (true, false) if !not_excludes => match star_resource {
                Some(r) => (s.codes[5], vec![element("NotAction"), r.place.clone()]),
                None => return,
            },
            _ => return,
        };
        let details = s.details[s.codes.iter().position(|c| *c == code).unwrap_or(0)];
        self.add(s.finding_type, code, details.into(), places);
    }

    /// A web identity or SAML provider trusted with `sts:AssumeRole`, which it cannot call.
    fn mismatched_federation(&mut self, path: &[PathElement], node: &Node, actions: &[Item]) {
        let Some(principal) = node.get("Principal") else {
            return;
        };
        let Some(federated) = principal.value.get("Federated") else {
            return;
        };
        let providers: Vec<&str> = match &federated.value.kind {
            Kind::String(s) => vec![s.as_str()],
            Kind::Array(items) => items.iter().filter_map(Node::as_str).collect(),
            _ => return,
        };
        for item in actions {
            if item.text.eq_ignore_ascii_case("sts:AssumeRole") {
                self.add(
                    Error,
                    "MISMATCHED_ACTION_FOR_PRINCIPAL",
                    format!("The {} action is invalid with the following principal(s): {}. Use a SAML provider principal with the sts:AssumeRoleWithSAML action or use an OIDC provider principal with the sts:AssumeRoleWithWebIdentity action. Ensure the provider is Federated if you use either of the two options.", item.text, providers.join(", ")),
                    vec![
                        item.place.clone(),
                        at(value(&value(path, "Principal"), "Federated"), &federated.value),
                    ],
                );
            }
        }
    }

    /// A resource policy statement that allows anyone, without a condition that narrows who.
    fn public(&mut self, path: &[PathElement], node: &Node, keys: &[ConditionKey]) {
        let Some(principal) = node.get("Principal") else {
            return;
        };
        let everyone = match &principal.value.kind {
            Kind::String(s) => s == "*",
            Kind::Object(_) => {
                principal
                    .value
                    .get("AWS")
                    .is_some_and(|aws| match &aws.value.kind {
                        Kind::String(s) => s == "*",
                        Kind::Array(items) => items.iter().any(|i| i.as_str() == Some("*")),
                        _ => false,
                    })
            }
            _ => false,
        };
        if !everyone
            || keys
                .iter()
                .any(|k| RESTRICTING_KEYS.contains(&k.lower.as_str()))
        {
            return;
        }
        self.add(
            SecurityWarning,
            PUBLIC_ACCESS,
            "The statement allows any principal, including anonymous callers, and has no condition on who they are (such as aws:PrincipalOrgID, aws:PrincipalAccount or aws:SourceIp). Name the principals or add such a condition, unless public access is intended.".into(),
            vec![at(value(path, "Principal"), &principal.value)],
        );
    }
}

/// The first problem of a statement's resource ARN, if it has one.
fn resource_finding(r: &str) -> Option<(FindingType, &'static str, String)> {
    if r == "*" {
        return None;
    }
    if !r.starts_with("arn:") {
        return Some((
            Error,
            "INVALID_ARN_PREFIX",
            "Add the required prefix (arn) to the resource ARN.".into(),
        ));
    }
    let fields: Vec<&str> = r.splitn(6, ':').collect();
    if fields.len() < 6 {
        return Some((
            Error,
            "MISSING_ARN_FIELD",
            "Resource ARNs must include at least 6 fields in the following structure: arn:partition:service:region:account:resource".into(),
        ));
    }
    let service = fields[2];
    if service.contains(['*', '?']) {
        Some((
            Suggestion,
            "WILDCARD_IN_SERVICE_NAME",
            "Avoid using wildcards (*, ?) in the service name because it might grant unintended access to other AWS services with similar names.".into(),
        ))
    } else if service.bytes().any(|b| b.is_ascii_uppercase()) {
        Some((
            Error,
            "INVALID_ARN_SERVICE_CASE",
            format!("Update the service name {service} in the resource ARN to use all lowercase letters."),
        ))
    } else {
        None
    }
}

struct ConditionKey {
    name: String,
    lower: String,
    place: Place,
}

struct Sensitive {
    action: &'static str,
    /// What the resource of the action's ARNs is (`:role/`).
    resource_marker: &'static str,
    finding_type: FindingType,
    /// Explicit + star resource, star action + star resource, explicit + NotResource, star
    /// action + NotResource, NotAction + NotResource, NotAction + star resource.
    codes: [&'static str; 6],
    details: [&'static str; 6],
}

const SENSITIVE: [Sensitive; 2] = [
    Sensitive {
        action: "iam:PassRole",
        resource_marker: ":role/",
        finding_type: SecurityWarning,
        codes: [
            "PASS_ROLE_WITH_STAR_IN_RESOURCE",
            "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
            "PASS_ROLE_WITH_NOT_RESOURCE",
            "PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
            "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
            "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        ],
        details: [
            "Using the iam:PassRole action with wildcards (*) in the resource can be overly permissive because it allows iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs or add the iam:PassedToService condition key to your statement.",
            "Using wildcards (*) in the action and the resource can be overly permissive because it allows iam:PassRole permissions on all resources. We recommend that you specify resource ARNs or add the iam:PassedToService condition key to your statement.",
            "Using the iam:PassRole action with NotResource can be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
            "Using an action with a wildcard (*) and NotResource can be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
            "Using NotAction with NotResource can be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
            "Using a resource with wildcards (*) and NotAction can be overly permissive because it allows iam:PassRole permissions on all resources. We recommend that you specify resource ARNs or add the iam:PassedToService condition key to your statement.",
        ],
    },
    Sensitive {
        action: "iam:CreateServiceLinkedRole",
        resource_marker: ":role/",
        finding_type: Warning,
        codes: [
            "CREATE_SLR_WITH_STAR_IN_RESOURCE",
            "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE",
            "CREATE_SLR_WITH_NOT_RESOURCE",
            "CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
            "CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE",
            "CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        ],
        details: [
            "Using the iam:CreateServiceLinkedRole action with wildcards (*) in the resource can allow creation of unintended service-linked roles. We recommend that you specify resource ARNs instead.",
            "Using wildcards (*) in the action and the resource can allow creation of unintended service-linked roles because it allows iam:CreateServiceLinkedRole permissions on all resources. We recommend that you specify resource ARNs instead.",
            "Using the iam:CreateServiceLinkedRole action with NotResource can allow creation of unintended service-linked roles for multiple resources. We recommend that you specify resource ARNs instead.",
            "Using an action with a wildcard(*) and NotResource can allow creation of unintended service-linked roles because it can allow iam:CreateServiceLinkedRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
            "Using NotAction with NotResource can allow creation of unintended service-linked roles because it allows iam:CreateServiceLinkedRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
            "Using a resource with wildcards (*) and NotAction can allow creation of unintended service-linked roles because it allows iam:CreateServiceLinkedRole permissions on all resources. We recommend that you specify resource ARNs instead.",
        ],
    },
];

/// The operator type a key of type `key_type` needs, when `operator` does not fit it.
fn operator_type_mismatch(operator: &str, key_type: &str, key_lower: &str) -> Option<&'static str> {
    let family = if operator.starts_with("String") {
        "String"
    } else if operator.starts_with("Numeric") {
        "Numeric"
    } else if operator.starts_with("Date") {
        "Date"
    } else if operator.starts_with("Arn") {
        "Arn"
    } else if operator.starts_with("Binary") {
        "Binary"
    } else if operator.ends_with("IpAddress") {
        "IpAddress"
    } else if operator == "Bool" {
        "Bool"
    } else {
        return None; // Null fits every key.
    };
    let (fits, expected) = match key_type {
        "String" => (family == "String", "String"),
        "ARN" => (matches!(family, "Arn" | "String"), "Arn"),
        "Numeric" => (family == "Numeric", "Numeric"),
        "Date" => (
            family == "Date" || (family == "Numeric" && key_lower == "aws:epochtime"),
            "Date",
        ),
        "Bool" => (family == "Bool", "Bool"),
        "IPAddress" => (family == "IpAddress", "IpAddress"),
        "Binary" => (family == "Binary", "Binary"),
        _ => (true, ""),
    };
    (!fits).then_some(expected)
}

/// A `*` or `?` outside a policy variable (`${*}` is a literal star).
fn has_wildcard(value: &str) -> bool {
    let mut rest = value;
    while let Some(i) = rest.find(['*', '?', '$']) {
        if rest[i..].starts_with("${") {
            match rest[i..].find('}') {
                Some(close) => rest = &rest[i + close + 1..],
                None => return false,
            }
        } else if rest.as_bytes()[i] == b'$' {
            rest = &rest[i + 1..];
        } else {
            return true;
        }
    }
    false
}

/// Whether the wildcard pattern (`*`, `?`) matches the text, as the engine matches.
fn glob(pattern: &str, text: &str) -> bool {
    Glob::parse(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(policy: &str, policy_type: PolicyType, resource_type: Option<&str>) -> Vec<String> {
        run(policy, policy_type, resource_type, &Catalog::aws())
            .into_iter()
            .map(|f| format!("{} {}", f.finding_type.as_str(), f.issue_code))
            .collect()
    }

    fn identity(statement: &str) -> Vec<String> {
        codes(
            &format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#),
            PolicyType::Identity,
            None,
        )
    }

    #[test]
    fn a_condition_key_that_applies_to_no_action_of_the_statement() {
        // s3:prefix is a key of ListBucket only: on GetObject the condition is never evaluated.
        assert_eq!(
            identity(
                r#"{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*",
                "Condition": {"StringLike": {"s3:prefix": "home/*"}}}"#
            ),
            ["ERROR UNSUPPORTED_ACTION_FOR_CONDITION_KEY"]
        );
        // A wildcard counts as supported when one of the actions it covers supports the key.
        assert!(identity(
            r#"{"Effect": "Allow", "Action": "s3:List*", "Resource": "*",
                "Condition": {"StringLike": {"s3:prefix": "home/*"}}}"#
        )
        .is_empty());
        // Global keys apply to every action.
        assert!(identity(
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}}}"#
        )
        .is_empty());
    }

    #[test]
    fn condition_types_and_qualifiers() {
        assert_eq!(
            identity(
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"StringEquals": {"aws:MultiFactorAuthPresent": "true"},
                              "ForAllValues:StringEquals": {"aws:username": ["a", "b"]},
                              "StringEqualz": {"aws:username": "a"},
                              "ForAnyValue:StringLike": {"aws:TagKeys": []}}}"#
            ),
            [
                "WARNING TYPE_MISMATCH",
                "SECURITY_WARNING FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                "ERROR INVALID_CONDITION_OPERATOR",
                "SUGGESTION EMPTY_ARRAY_CONDITION_FORANYVALUE",
            ]
        );
        // A tag key family needs its tag key; a key without a prefix is malformed.
        assert_eq!(
            identity(
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag": "x", "username": "y",
                                               "aws:PrincipalTag/team": "data"}}}"#
            ),
            [
                "ERROR MISSING_TAG_KEY_IN_CONDITION",
                "ERROR INVALID_CONDITION_KEY_FORMAT"
            ]
        );
    }

    #[test]
    fn grammar_errors_and_their_places() {
        let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Actions": "s3:*", "Resource": 5}, "x"]}"#;
        let findings = run(text, PolicyType::Identity, None, &Catalog::aws());
        let got: Vec<(&str, String, &str)> = findings
            .iter()
            .map(|f| {
                let l = &f.locations[0];
                let start = l.start.offset;
                let end = l.end.offset;
                (f.issue_code, f.path_text(), &text[start..end])
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "MISSING_ACTION",
                    "Statement[0]".into(),
                    r#"{"Effect": "Maybe", "Actions": "s3:*", "Resource": 5}"#
                ),
                ("INVALID_EFFECT", "Statement[0].Effect".into(), "\"Maybe\""),
                (
                    "INVALID_POLICY_ELEMENT",
                    "Statement[0].Actions".into(),
                    "\"Actions\""
                ),
                ("DATA_TYPE_MISMATCH", "Statement[0].Resource".into(), "5"),
                ("DATA_TYPE_MISMATCH", "Statement[1]".into(), "\"x\""),
            ]
        );
    }

    #[test]
    fn resource_policies() {
        let resource = |statement: &str, resource_type: Option<&str>| {
            codes(
                &format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#),
                PolicyType::Resource,
                resource_type,
            )
        };
        assert_eq!(
            resource(
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
                None
            ),
            ["ERROR MISSING_PRINCIPAL"]
        );
        assert_eq!(
            resource(
                r#"{"Effect": "Allow", "Principal": {"User": "bob"}, "Action": "s3:GetObject", "Resource": "*"}"#,
                None
            ),
            ["ERROR INVALID_PRINCIPAL_KEY"]
        );
        // A trust policy open to everyone is a trust policy's business (conditions on the
        // provider's claims), not public access to a resource.
        let trust = r#"{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}"#;
        assert!(resource(trust, Some(TRUST_POLICY)).is_empty());
        assert_eq!(resource(trust, None), ["SECURITY_WARNING PUBLIC_ACCESS"]);
        // Identical statements, the Sid aside.
        assert_eq!(
            resource(
                r#"{"Sid": "A", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                   {"Sid": "B", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}"#,
                None
            ),
            ["SUGGESTION REDUNDANT_STATEMENT"]
        );
    }

    #[test]
    fn service_control_policies() {
        assert_eq!(
            codes(
                r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*",
                    "Action": "iam:*Role", "NotResource": "arn:aws:iam::*:role/admin"}}"#,
                PolicyType::ServiceControl,
                None
            ),
            [
                "ERROR SCP_SYNTAX_ERROR_PRINCIPAL",
                "ERROR SCP_SYNTAX_ERROR_ACTION_WILDCARD",
                "ERROR SCP_SYNTAX_ERROR_NOT_RESOURCE",
            ]
        );
    }

    #[test]
    fn wildcards_in_condition_values() {
        assert!(has_wildcard("admin-*"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("home/${aws:username}/"));
        assert!(!has_wildcard("${*}"));
        assert!(has_wildcard("${aws:username}*"));
    }
}
