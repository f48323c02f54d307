//! `iamgate simulate-custom-policy`: the options and output of `aws iam simulate-custom-policy`,
//! decided by the gateway's own evaluator.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::policy::{
    evaluate, is_account_id, Action, Context, Decision, Outcome, Policies, Policy, PolicyKind,
    PolicySet, Principal, PrincipalKind, Request,
};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `{"EvaluationResults": [...]}`, as the AWS CLI prints it.
    Json,
    /// A table for people.
    Text,
}

/// The options of `simulate-custom-policy`.
#[derive(Debug, Args)]
pub struct CustomPolicyArgs {
    /// The caller's identity-based policies: inline JSON or file://PATH, several after one flag.
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    pub policy_input_list: Vec<String>,
    /// The caller's permissions boundary: inline JSON or file://PATH.
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    pub permissions_boundary_policy_input_list: Vec<String>,
    /// A resource-based policy: inline JSON or file://PATH.
    #[arg(long, value_name = "POLICY")]
    pub resource_policy: Option<String>,
    /// The account that owns the resource (an account root ARN or id); the caller's by default.
    #[arg(long, value_name = "ARN")]
    pub resource_owner: Option<String>,
    /// The caller: a user, role (evaluated as one of its sessions) or assumed-role session ARN,
    /// an account, or `anonymous`.
    #[arg(long, value_name = "ARN")]
    pub caller_arn: Option<String>,
    /// Session policies (iamgate's addition to the AWS CLI's options): they cap the identity
    /// policies as the `Policy` and `PolicyArns` of `AssumeRole` do. Inline JSON or file://PATH.
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    pub session_policy_input_list: Vec<String>,
    /// What to evaluate.
    #[command(flatten)]
    pub evaluate: EvaluationArgs,
}

/// The options both simulators take, as the AWS CLI's do: what to evaluate and how to print it.
#[derive(Debug, Args)]
pub struct EvaluationArgs {
    /// The actions to evaluate, such as s3:GetObject.
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    pub action_names: Vec<String>,
    /// The resources to evaluate; `*` by default.
    #[arg(long, num_args = 1.., value_name = "ARN")]
    pub resource_arns: Vec<String>,
    /// Context entries: `ContextKeyName=k,ContextKeyValues=v,ContextKeyType=t`, or JSON.
    #[arg(long, num_args = 1.., value_name = "ENTRY")]
    pub context_entries: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub output: OutputFormat,
}

impl EvaluationArgs {
    /// Evaluates every action on every resource for `caller` with `context`, under the policies
    /// `policies` names for each pair.
    fn simulate<'p>(
        &self,
        caller: &Principal,
        context: &Context,
        mut policies: impl FnMut(&Action, &str) -> Policies<'p>,
    ) -> Result<Simulation, SimulateError> {
        let resources = resource_list(&self.resource_arns);
        let results = matrix(
            &self.action_names,
            &resources,
            caller,
            |action, resource| {
                let request = Request {
                    principal: caller,
                    action,
                    resource,
                    context,
                };
                evaluate(&policies(action, resource), &request)
            },
        )?;
        Ok(Simulation { results })
    }
}

/// A problem with the command line or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// A policy that does not load.
    #[error(transparent)]
    Policy(Box<crate::policy::PolicyError>),
    /// A file:// argument that cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Any other invalid argument.
    #[error("{0}")]
    Invalid(String),
}

impl From<crate::policy::PolicyError> for SimulateError {
    fn from(e: crate::policy::PolicyError) -> SimulateError {
        SimulateError::Policy(Box::new(e))
    }
}

/// One context entry, as the AWS CLI takes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ContextEntry {
    context_key_name: String,
    #[serde(default)]
    context_key_values: Vec<String>,
    context_key_type: String,
}

/// Reads an argument that is inline text or `file://PATH`.
pub(crate) fn read_argument(arg: &str) -> Result<String, SimulateError> {
    match arg.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).map_err(|source| SimulateError::Read {
            path: path.to_owned(),
            source,
        }),
        None => Ok(arg.to_owned()),
    }
}

/// Identity-based policies given as a list (`--policy-input-list` and the like).
fn load(list_name: &str, args: &[String]) -> Result<PolicySet, SimulateError> {
    let mut policies = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let name = format!("{list_name}.{}", i + 1);
        let text = read_argument(arg)?;
        policies.push(Arc::new(Policy::parse(&name, PolicyKind::Identity, &text)?));
    }
    Ok(PolicySet::new(policies))
}

/// One result: the action, the resource, the decision, and why no policy was asked if none was.
type Row = (String, String, Decision, Option<&'static str>);

/// The simulation's results, ready to print.
pub struct Simulation {
    results: Vec<Row>,
}

/// Runs the simulation the arguments describe.
pub fn simulate_custom(args: &CustomPolicyArgs) -> Result<Simulation, SimulateError> {
    let identity = load("PolicyInputList", &args.policy_input_list)?;
    let boundary = load(
        "PermissionsBoundaryPolicyInputList",
        &args.permissions_boundary_policy_input_list,
    )?;
    let resource_policy = match &args.resource_policy {
        None => None,
        Some(arg) => {
            let text = read_argument(arg)?;
            Some(PolicySet::single(Policy::parse(
                "ResourcePolicy",
                PolicyKind::Resource,
                &text,
            )?))
        }
    };
    let owner = args
        .resource_owner
        .as_deref()
        .map(owner_account)
        .transpose()?;
    let caller = match (&args.caller_arn, &resource_policy) {
        (Some(arn), _) => {
            Principal::from_arn(arn).map_err(|e| SimulateError::Invalid(e.to_string()))?
        }
        (None, Some(_)) => {
            return Err(SimulateError::Invalid(
                "--caller-arn is required with --resource-policy".into(),
            ))
        }
        (None, None) => {
            let account = owner.as_deref().unwrap_or("123456789012");
            Principal::from_arn(&format!("arn:aws:iam::{account}:user/simulated-caller"))
                .map_err(|e| SimulateError::Invalid(e.to_string()))?
        }
    };
    let session = load("SessionPolicyInputList", &args.session_policy_input_list)?;
    let context = parse_context(&args.evaluate.context_entries)?;
    let policies = Policies {
        identity: Some(&identity),
        boundary: (!boundary.is_empty()).then_some(&boundary),
        session: (!session.is_empty()).then_some(&session),
        resource: resource_policy.as_ref(),
        resource_owner: owner.as_deref(),
    };
    args.evaluate.simulate(&caller, &context, |_, _| policies)
}

fn resource_list(arns: &[String]) -> Vec<String> {
    if arns.is_empty() {
        vec!["*".to_owned()]
    } else {
        arns.to_vec()
    }
}

/// Decides every action on every resource, in the order given. The STS operations that need no
/// permission are answered as the gateway answers them, without asking the policies.
fn matrix(
    actions: &[String],
    resources: &[String],
    caller: &Principal,
    mut decide: impl FnMut(&Action, &str) -> Decision,
) -> Result<Vec<Row>, SimulateError> {
    let mut results = Vec::with_capacity(actions.len() * resources.len());
    for action_name in actions {
        if action_name != "*" && !action_name.contains(':') {
            return Err(SimulateError::Invalid(format!(
                "action '{action_name}' has no service prefix (expected service:action)"
            )));
        }
        let action = Action::new(action_name);
        let unconditional = crate::sts::actions::without_policy(action_name, caller);
        for resource in resources {
            let (decision, note) = match unconditional {
                Some(allowed) => (
                    Decision {
                        outcome: if allowed {
                            Outcome::Allowed
                        } else {
                            Outcome::ImplicitDeny
                        },
                        matched: Vec::new(),
                        missing_context: Vec::new(),
                    },
                    Some(if allowed {
                        "no permission needed: policies do not govern this operation"
                    } else {
                        "not for this caller: GetCallerIdentity needs a signed request, GetSessionToken a user's or root's long-term keys"
                    }),
                ),
                None => (decide(&action, resource), None),
            };
            results.push((action_name.clone(), resource.clone(), decision, note));
        }
    }
    Ok(results)
}

/// The options of `simulate-principal-policy`.
#[derive(Debug, Args)]
pub struct PrincipalPolicyArgs {
    /// The policy store.
    #[arg(long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// The user, group or role of the store whose policies to evaluate, or a session of one of
    /// its roles (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    #[arg(long, required = true, value_name = "ARN")]
    pub policy_source_arn: String,
    /// Session policies that cap the principal's (iamgate's addition): inline JSON or file://PATH.
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    pub session_policy_input_list: Vec<String>,
    /// More identity-based policies to include: inline JSON or file://PATH.
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    pub policy_input_list: Vec<String>,
    /// What to evaluate. The resources' policies come from the store; context entries add to
    /// (and override) the keys the principal brings (aws:username, aws:PrincipalTag/*, ...).
    #[command(flatten)]
    pub evaluate: EvaluationArgs,
}

/// Evaluates what a principal of the store may do: its policies, groups and boundary, with the
/// resource's policy from the store, as the gateway would.
pub fn simulate_principal(args: &PrincipalPolicyArgs) -> Result<Simulation, SimulateError> {
    let snapshot = crate::store::load(&args.policies)
        .map_err(|e| SimulateError::Invalid(format!("the policy store does not load:\n{e}")))?;
    let extra = load("PolicyInputList", &args.policy_input_list)?;
    let session = load("SessionPolicyInputList", &args.session_policy_input_list)?;
    let source = &args.policy_source_arn;
    let session_of_role = Principal::from_arn(source)
        .ok()
        .filter(|p| p.kind() == PrincipalKind::AssumedRole);
    let (caller, mut policies, boundary, mut context) = if let Some(session) = session_of_role {
        // The role by name in the session's account (its ARN in the store may carry a path).
        let role = snapshot
            .identities()
            .into_values()
            .find(|i| {
                i.principal.kind() == PrincipalKind::Role
                    && i.principal.account() == session.account()
                    && session
                        .role_arn()
                        .and_then(|r| r.rsplit('/').next())
                        .is_some_and(|name| i.principal.name() == Some(name))
            })
            .ok_or_else(|| {
                SimulateError::Invalid(format!("the role of session {source} is not in the store"))
            })?;
        let name = session.name().unwrap_or_default();
        let principal = Principal::assumed_role(role.principal.arn(), name)
            .map_err(|e| SimulateError::Invalid(e.to_string()))?;
        let mut context = Context::new();
        context.insert("aws:PrincipalArn", role.principal.arn());
        if let Some(account) = role.principal.account() {
            context.insert("aws:PrincipalAccount", account);
        }
        context.insert("aws:PrincipalType", "AssumedRole");
        context.insert("aws:userid", format!("{}:{name}", role.id));
        for (k, v) in &role.tags {
            context.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
        (
            principal,
            role.policies.policies().to_vec(),
            role.boundary.clone(),
            context,
        )
    } else if let Some(identity) = snapshot.identity(source) {
        let mut context = identity.context();
        // A role acts only through its sessions, and is evaluated as one.
        if identity.principal.kind() == PrincipalKind::Role {
            context.insert("aws:PrincipalType", "AssumedRole");
        }
        (
            identity.principal.clone(),
            identity.policies.policies().to_vec(),
            identity.boundary.clone(),
            context,
        )
    } else if let Some(group) = snapshot.group(source) {
        let account = source.split(':').nth(4).unwrap_or_default();
        let member = Principal::from_arn(&format!("arn:aws:iam::{account}:user/group-member"))
            .map_err(|e| SimulateError::Invalid(e.to_string()))?;
        (member, group.policies().to_vec(), None, Context::new())
    } else {
        return Err(SimulateError::Invalid(format!(
            "--policy-source-arn {source} is no user, group or role of the store"
        )));
    };
    policies.extend(extra.policies().iter().cloned());
    let identity = PolicySet::new(policies);
    context.merge(parse_context(&args.evaluate.context_entries)?);
    args.evaluate
        .simulate(&caller, &context, |action, resource| {
            let entry = snapshot.resource(resource);
            // A role of the store is, for STS, a resource whose policy is its trust policy.
            let role = snapshot
                .identity(resource)
                .filter(|r| r.principal.kind() == PrincipalKind::Role && action.service() == "sts");
            Policies {
                identity: Some(&identity),
                boundary: boundary.as_ref(),
                session: (!session.is_empty()).then_some(&session),
                resource: entry
                    .and_then(|r| r.policy.as_ref())
                    .or_else(|| role.and_then(|r| r.trust.as_ref())),
                resource_owner: entry
                    .map(|r| r.owner.as_str())
                    .or_else(|| role.and_then(|r| r.principal.account())),
            }
        })
}

fn owner_account(arg: &str) -> Result<String, SimulateError> {
    if is_account_id(arg) {
        return Ok(arg.to_owned());
    }
    match Principal::from_arn(arg) {
        Ok(p) => p.account().map(str::to_owned),
        Err(_) => None,
    }
    .ok_or_else(|| {
        SimulateError::Invalid(format!(
            "--resource-owner '{arg}' is not an account (arn:aws:iam::ACCOUNT:root)"
        ))
    })
}

const CONTEXT_TYPES: &[&str] = &[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

/// Reads `--context-entries`: each argument is JSON (an entry or a list of them) or the AWS
/// CLI shorthand.
pub(crate) fn parse_context(args: &[String]) -> Result<Context, SimulateError> {
    let mut entries = Vec::new();
    for arg in args {
        let trimmed = arg.trim_start();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let value: Value = serde_json::from_str(trimmed)
                .map_err(|e| SimulateError::Invalid(format!("--context-entries: {e}")))?;
            let items = match value {
                Value::Array(items) => items,
                one => vec![one],
            };
            for item in items {
                entries.push(
                    serde_json::from_value::<ContextEntry>(item)
                        .map_err(|e| SimulateError::Invalid(format!("--context-entries: {e}")))?,
                );
            }
        } else {
            entries.push(parse_shorthand(arg)?);
        }
    }
    let mut context = Context::new();
    for entry in entries {
        if !CONTEXT_TYPES.contains(&entry.context_key_type.as_str()) {
            return Err(SimulateError::Invalid(format!(
                "context key '{}': unknown ContextKeyType '{}' (expected one of {})",
                entry.context_key_name,
                entry.context_key_type,
                CONTEXT_TYPES.join(", ")
            )));
        }
        let single = !entry.context_key_type.ends_with("List");
        if single && entry.context_key_values.len() != 1 {
            return Err(SimulateError::Invalid(format!(
                "context key '{}' of type {} takes exactly one value",
                entry.context_key_name, entry.context_key_type
            )));
        }
        context.insert_values(&entry.context_key_name, entry.context_key_values);
    }
    Ok(context)
}

fn parse_shorthand(arg: &str) -> Result<ContextEntry, SimulateError> {
    let (mut name, mut kind, mut values) = (None, None, Vec::new());
    let mut in_values = false;
    for token in arg.split(',') {
        match token.split_once('=') {
            Some(("ContextKeyName", v)) => (name, in_values) = (Some(v.to_owned()), false),
            Some(("ContextKeyType", v)) => (kind, in_values) = (Some(v.to_owned()), false),
            Some(("ContextKeyValues", v)) => {
                values.push(v.to_owned());
                in_values = true;
            }
            _ if in_values => values.push(token.to_owned()),
            _ => {
                return Err(SimulateError::Invalid(format!(
                    "--context-entries: cannot read '{token}' in '{arg}'"
                )))
            }
        }
    }
    let missing =
        |what: &str| SimulateError::Invalid(format!("--context-entries: '{arg}' has no {what}"));
    Ok(ContextEntry {
        context_key_name: name.ok_or_else(|| missing("ContextKeyName"))?,
        context_key_values: values,
        context_key_type: kind.ok_or_else(|| missing("ContextKeyType"))?,
    })
}

impl Simulation {
    /// The results as `aws iam simulate-custom-policy` prints them.
    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|(action, resource, d, _)| {
                json!({
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": d.outcome.as_str(),
                    "MatchedStatements": d.matched.iter().map(|m| json!({
                        "SourcePolicyId": &*m.policy,
                        "SourcePolicyType": m.source.as_str(),
                        "Sid": m.sid.as_deref(),
                        "StatementIndex": m.index + 1,
                        "Effect": m.effect.as_str(),
                    })).collect::<Vec<_>>(),
                    "MissingContextValues": d.missing_context,
                })
            })
            .collect();
        json!({ "EvaluationResults": results })
    }

    /// The results as a table for people, with why each decision came out as it did.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = |f: fn(&Row) -> usize, min: usize| {
            self.results.iter().map(f).max().unwrap_or(0).max(min)
        };
        let aw = width(|r| r.0.len(), 6);
        let rw = width(|r| r.1.len(), 8);
        let _ = writeln!(out, "{:aw$}  {:rw$}  DECISION", "ACTION", "RESOURCE");
        for (action, resource, d, note) in &self.results {
            let _ = writeln!(out, "{action:aw$}  {resource:rw$}  {}", d.outcome.as_str());
            if let Some(note) = note {
                let _ = writeln!(out, "    {note}");
                continue;
            }
            if d.outcome == Outcome::ImplicitDeny && !d.matched.is_empty() {
                let _ = writeln!(
                    out,
                    "    allowed only in part: another account's resource, a role's trust policy and a KMS key policy need the resource policy to allow too, and a permissions boundary and session policies must allow too"
                );
            }
            for m in &d.matched {
                let sid = m
                    .sid
                    .as_deref()
                    .map(|s| format!(" (Sid \"{s}\")"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {} by {} {}, statement {}{sid}",
                    m.effect.as_str(),
                    m.source.as_str(),
                    m.policy,
                    m.index + 1
                );
            }
            if d.matched.is_empty() && !d.is_allowed() {
                let _ = writeln!(out, "    no statement allows it: denied by default");
            }
            if !d.missing_context.is_empty() {
                let _ = writeln!(
                    out,
                    "    missing context values: {}",
                    d.missing_context.join(", ")
                );
            }
        }
        out
    }
}
