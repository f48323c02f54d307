//! The STS operations: `AssumeRole`, `GetSessionToken`, `GetCallerIdentity` and
//! `AssumeRoleWithWebIdentity`, decided against the snapshot and answered with STS's XML.
//! No I/O happens here: the proxy reads the request and fetches provider keys.

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;

use super::mfa::{MfaError, MfaVerifier};
use super::oidc::{self, JwksCache, WebIdentity, WebIdentityError};
use crate::caller::session::{Session, SessionCache};
use crate::caller::token::{SessionClaims, Subject, TokenError, TokenKeys};
use crate::caller::Caller;
use crate::context::iso8601;
use crate::policy::{
    self, Action, Context, Decision, Policies, Policy, PolicyKind, Principal, PrincipalKind,
    Request,
};
use crate::store::{Identity, OidcProvider, Snapshot};
use crate::xml::escape;

/// The STS API version every request names.
pub const VERSION: &str = "2011-06-15";
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The budget that `PackedPolicySize` is a percentage of: the minified session policy, the
/// managed policy ARNs and the session tags together. AWS packs them in a binary form of its own
/// with a limit it does not publish; iamgate counts their bytes.
pub const PACKED_POLICY_BUDGET: usize = 4096;
/// The longest session of a role assumed by another role session (AWS: one hour).
const CHAINED_MAX_SECS: i64 = 3600;

/// An STS error: code, HTTP status and message, as STS sends them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StsError {
    /// The error code (`AccessDenied`, `ValidationError`, …).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl StsError {
    /// `ValidationError` (400).
    pub fn validation(message: impl Into<String>) -> StsError {
        StsError {
            code: "ValidationError",
            status: 400,
            message: message.into(),
        }
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> StsError {
        StsError {
            code: "AccessDenied",
            status: 403,
            message: message.into(),
        }
    }

    fn new(code: &'static str, status: u16, message: impl Into<String>) -> StsError {
        StsError {
            code,
            status,
            message: message.into(),
        }
    }

    /// The `ErrorResponse` document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(self.code),
            escape(&self.message),
            escape(request_id)
        )
    }
}

/// The parameters of a Query-protocol request (`Action=...&Version=...`), from the query
/// string and a form body, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text; `+` is a space.
    pub fn parse(text: &[u8]) -> Params {
        let mut params = Params::default();
        params.extend(text);
        params
    }

    /// Adds the parameters of more form text.
    pub fn extend(&mut self, text: &[u8]) {
        self.0.extend(
            form_urlencoded::parse(text)
                .map(|(name, value)| (name.into_owned(), value.into_owned())),
        );
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        crate::query::first(&self.0, name)
    }

    /// `PREFIX.member.N[.FIELD]` values in member order (N from 1).
    fn members(&self, prefix: &str, field: Option<&str>) -> Vec<(u32, String)> {
        let head = format!("{prefix}.member.");
        let mut found: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(n, v)| {
                let rest = n.strip_prefix(&head)?;
                let (index, tail) = match rest.split_once('.') {
                    Some((i, t)) => (i, Some(t)),
                    None => (rest, None),
                };
                (tail == field).then_some(())?;
                Some((index.parse::<u32>().ok()?, v.clone()))
            })
            .collect();
        found.sort_by_key(|(i, _)| *i);
        found
    }
}

/// Temporary credentials issued.
#[derive(Clone)]
pub struct Credentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The sealed session token.
    pub session_token: String,
    /// Expiry, Unix seconds.
    pub expiration: i64,
}

crate::redact::debug_without_secrets!(Credentials {
    access_key_id,
    expiration
});

/// A role session issued.
#[derive(Debug, Clone)]
pub struct RoleSession {
    /// Its credentials.
    pub credentials: Credentials,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `ROLEID:SESSION`.
    pub assumed_role_id: String,
    /// Percentage of [`PACKED_POLICY_BUDGET`] used, when session policies or tags were given.
    pub packed_policy_size: Option<usize>,
    /// The source identity set.
    pub source_identity: Option<String>,
}

/// What an STS call answers.
#[derive(Debug, Clone)]
pub enum StsResponse {
    /// `AssumeRole`.
    AssumeRole(RoleSession),
    /// `AssumeRoleWithWebIdentity`.
    AssumeRoleWithWebIdentity(RoleSession, WebIdentity),
    /// `GetSessionToken`.
    GetSessionToken(Credentials),
    /// `GetCallerIdentity`.
    GetCallerIdentity {
        /// The caller's ARN.
        arn: String,
        /// `aws:userid`.
        user_id: String,
        /// The account.
        account: String,
    },
}

fn credentials_xml(c: &Credentials) -> String {
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>",
        escape(&c.access_key_id),
        escape(&c.secret_access_key),
        escape(&c.session_token),
        iso8601(c.expiration)
    )
}

fn role_session_xml(s: &RoleSession) -> String {
    let mut out = String::new();
    if let Some(si) = &s.source_identity {
        out.push_str(&format!("<SourceIdentity>{}</SourceIdentity>", escape(si)));
    }
    out.push_str(&format!(
        "<AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
        escape(&s.assumed_role_id),
        escape(&s.arn)
    ));
    out.push_str(&credentials_xml(&s.credentials));
    if let Some(size) = s.packed_policy_size {
        out.push_str(&format!("<PackedPolicySize>{size}</PackedPolicySize>"));
    }
    out
}

impl StsResponse {
    /// The operation's name.
    pub fn operation(&self) -> &'static str {
        match self {
            StsResponse::AssumeRole(_) => "AssumeRole",
            StsResponse::AssumeRoleWithWebIdentity(..) => "AssumeRoleWithWebIdentity",
            StsResponse::GetSessionToken(_) => "GetSessionToken",
            StsResponse::GetCallerIdentity { .. } => "GetCallerIdentity",
        }
    }

    /// The response document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let result = match self {
            StsResponse::AssumeRole(s) => role_session_xml(s),
            StsResponse::AssumeRoleWithWebIdentity(s, w) => format!(
                "<SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken><Audience>{}</Audience>{}<Provider>{}</Provider>",
                escape(&w.subject),
                escape(&w.audience),
                role_session_xml(s),
                escape(&w.provider_url)
            ),
            StsResponse::GetSessionToken(c) => credentials_xml(c),
            StsResponse::GetCallerIdentity {
                arn,
                user_id,
                account,
            } => format!(
                "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
                escape(arn),
                escape(user_id),
                escape(account)
            ),
        };
        let op = self.operation();
        format!(
            "<{op}Response xmlns=\"{XMLNS}\"><{op}Result>{result}</{op}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{op}Response>",
            escape(request_id)
        )
    }
}

/// One STS call: who makes it, with which parameters, and what it is decided against.
pub struct Call<'a> {
    /// The snapshot the request started with.
    pub snapshot: &'a Snapshot,
    /// The environment's condition keys (source IP, time, transport, user agent, region).
    pub environment: &'a Context,
    /// Now, Unix seconds.
    pub now: i64,
    /// Who signed the request.
    pub caller: &'a Caller,
    /// The request's parameters.
    pub params: &'a Params,
}

/// The built-in STS: the sealing keys, the opened sessions, the MFA codes spent and the
/// providers' keys fetched.
#[derive(Debug)]
pub struct Sts {
    keys: TokenKeys,
    sessions: SessionCache,
    mfa: MfaVerifier,
    jwks: JwksCache,
}

impl Sts {
    /// An STS sealing with `keys`.
    pub fn new(keys: TokenKeys) -> Sts {
        Sts {
            keys,
            sessions: SessionCache::new(100_000),
            mfa: MfaVerifier::new(),
            jwks: JwksCache::new(),
        }
    }

    /// The session of a token (for the verifier).
    pub fn open_session(&self, token: &str, now: i64) -> Result<Arc<Session>, TokenError> {
        self.sessions.open(&self.keys, token, now)
    }

    /// Keys fetched from providers' URLs.
    pub fn jwks_cache(&self) -> &JwksCache {
        &self.jwks
    }

    /// `GetCallerIdentity`: who signed. No permission is needed.
    pub fn get_caller_identity(&self, caller: &Caller) -> Result<StsResponse, StsError> {
        let principal = caller.principal();
        let account = principal.account().unwrap_or_default().to_owned();
        let user_id = match caller {
            Caller::Anonymous => {
                return Err(StsError::new(
                    "MissingAuthenticationToken",
                    403,
                    "Request is missing Authentication Token",
                ))
            }
            Caller::Root(_) => account.clone(),
            Caller::Known(identity) => identity.id.clone(),
            Caller::Session(s) => s.session.user_id(),
        };
        Ok(StsResponse::GetCallerIdentity {
            arn: principal.arn().to_owned(),
            user_id,
            account,
        })
    }

    /// `GetSessionToken`: a user's (or root's) own permissions as temporary credentials,
    /// with MFA facts when a right code is given. Only long-term keys may call it.
    pub fn get_session_token(&self, call: &Call<'_>) -> Result<StsResponse, StsError> {
        let (subject, account, user_arn) = match call.caller {
            Caller::Known(identity) if identity.principal.kind() == PrincipalKind::User => (
                Subject::User {
                    arn: identity.principal.arn().to_owned(),
                    id: identity.id.clone(),
                },
                identity.principal.account().unwrap_or_default().to_owned(),
                Some(identity.principal.arn()),
            ),
            Caller::Root(p) => (
                Subject::Root,
                p.account().unwrap_or_default().to_owned(),
                None,
            ),
            Caller::Session(_) => {
                return Err(StsError::access_denied(
                    "Cannot call GetSessionToken with session credentials",
                ))
            }
            _ => {
                return Err(StsError::access_denied(
                    "GetSessionToken needs the long-term credentials of a user or root",
                ))
            }
        };
        let is_root = matches!(subject, Subject::Root);
        let (default, max) = if is_root {
            (3600, 3600)
        } else {
            (43_200, 129_600)
        };
        let mut duration = duration_param(call.params, default, 129_600)?;
        if duration > max {
            // AWS shortens a root session to an hour rather than refusing.
            duration = max;
        }
        let mfa_time = self.check_mfa(call, user_arn)?;
        let credentials = self.issue(SessionClaims {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            account,
            subject,
            issued: call.now,
            expires: call.now + duration,
            policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            mfa_time,
            source_identity: None,
            federated_provider: None,
            chained: false,
        })?;
        Ok(StsResponse::GetSessionToken(credentials))
    }

    /// Checks `SerialNumber` and `TokenCode`, if given, for the user `user_arn`.
    fn check_mfa(&self, call: &Call<'_>, user_arn: Option<&str>) -> Result<Option<i64>, StsError> {
        let params = call.params;
        let (serial, code) = match (params.get("SerialNumber"), params.get("TokenCode")) {
            (None, None) => return Ok(None),
            (Some(s), Some(c)) => (s, c),
            (Some(_), None) => {
                return Err(StsError::validation(
                    "TokenCode is required when SerialNumber is given",
                ))
            }
            (None, Some(_)) => {
                return Err(StsError::validation(
                    "SerialNumber is required when TokenCode is given",
                ))
            }
        };
        if !(9..=256).contains(&serial.len()) {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'serialNumber' failed to satisfy constraint: Member must have length between 9 and 256",
            ));
        }
        let failed = || {
            StsError::access_denied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            )
        };
        let device = call
            .snapshot
            .mfa_device(serial)
            .filter(|d| Some(&*d.user_arn) == user_arn)
            .ok_or_else(|| {
                StsError::access_denied(
                    "MultiFactorAuthentication failed, unable to validate MFA code",
                )
            })?;
        match self.mfa.check(serial, device.secret(), code, call.now) {
            Ok(()) => Ok(Some(call.now)),
            Err(MfaError::Malformed) => Err(StsError::validation(
                "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*",
            )),
            Err(MfaError::Wrong | MfaError::Reused) => Err(failed()),
        }
    }

    /// `AssumeRole`: the role's trust policy, as a resource policy, together with the caller's
    /// identity policies (both in another account, either in the same).
    pub fn assume_role(&self, call: &Call<'_>) -> Result<StsResponse, StsError> {
        let (caller, params) = (call.caller, call.params);
        let role_arn = required(params, "RoleArn", 20, 2048)?;
        let session_name = role_session_name(params)?;
        let principal = caller.principal();
        let denied = || {
            StsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                principal.arn()
            ))
        };
        let (source_session, user_arn) = match caller {
            Caller::Known(identity) => (None, Some(identity.principal.arn())),
            Caller::Session(s) => (
                Some(&s.session),
                match &s.session.claims.subject {
                    Subject::User { arn, .. } => Some(arn.as_str()),
                    _ => None,
                },
            ),
            // AWS refuses role assumption to the root user's credentials.
            Caller::Root(_) => {
                return Err(StsError::access_denied(
                    "Roles may not be assumed by root accounts.",
                ))
            }
            Caller::Anonymous => return Err(denied()),
        };
        let chained = source_session.is_some_and(|s| s.is_role());
        let role = role(call.snapshot, role_arn).ok_or_else(denied)?;
        let max = if chained {
            CHAINED_MAX_SECS
        } else {
            i64::from(role.max_session_duration.unwrap_or(3600))
        };
        let duration = duration_param(params, 3600, 43_200)?;
        if duration > max {
            return Err(StsError::validation(if chained {
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            } else {
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            }));
        }
        let requested = SessionRequest::parse(call.snapshot, params)?;
        let (tags, transitive) = requested.merge_tags(source_session.map(|s| &s.claims))?;
        let source_identity = merge_source_identity(
            source_session.and_then(|s| s.claims.source_identity.as_deref()),
            params.get("SourceIdentity"),
        )?;
        if let Some(external) = params.get("ExternalId") {
            check_text("externalId", external, 2, 1224, "[\\w+=,.@:\\/-]*", |c| {
                c.is_alphanumeric() || "_+=,.@:/-".contains(c)
            })?;
        }
        // MFA: a code given now, or the facts of the session that calls.
        let mfa_time = match self.check_mfa(call, user_arn)? {
            Some(t) => Some(t),
            None => source_session.and_then(|s| s.claims.mfa_time),
        };

        // The trust decision, with the caller's context and the request's.
        let mut context = caller.context(call.now);
        context.merge(call.environment.clone());
        if let Some(t) = mfa_time {
            context.insert("aws:MultiFactorAuthPresent", "true");
            context.insert("aws:MultiFactorAuthAge", (call.now - t).max(0).to_string());
        }
        context.insert("sts:RoleSessionName", session_name);
        if let Some(external) = params.get("ExternalId") {
            context.insert("sts:ExternalId", external);
        }
        if let Some(si) = params.get("SourceIdentity") {
            context.insert("sts:SourceIdentity", si);
        }
        requested.add_request_tags(&mut context);
        let caller_policies = caller.policies(call.snapshot);
        let decide = |action: &str| {
            trust_decision(
                &Policies {
                    identity: caller_policies.identity,
                    boundary: caller_policies.boundary,
                    session: caller_policies.session.as_deref(),
                    resource: role.trust.as_ref(),
                    resource_owner: role.principal.account(),
                },
                &principal,
                action,
                role_arn,
                &context,
            )
        };
        if !decide("sts:AssumeRole").is_allowed() {
            return Err(denied());
        }
        if !requested.tags.is_empty() && !decide("sts:TagSession").is_allowed() {
            return Err(StsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:TagSession on resource: {role_arn}",
                principal.arn()
            )));
        }
        if params.get("SourceIdentity").is_some() && !decide("sts:SetSourceIdentity").is_allowed() {
            return Err(StsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:SetSourceIdentity on resource: {role_arn}",
                principal.arn()
            )));
        }
        let carried = Carried {
            tags,
            transitive_tag_keys: transitive,
            mfa_time,
            source_identity,
            federated_provider: None,
            chained,
        };
        let session = self.role_session(call, role, session_name, duration, &requested, carried)?;
        Ok(StsResponse::AssumeRole(session))
    }

    /// The provider a web identity token names, and how to get its keys: the first step of
    /// `AssumeRoleWithWebIdentity`, before the proxy fetches keys it does not have.
    pub fn web_identity_provider<'s>(
        &self,
        snapshot: &'s Snapshot,
        params: &Params,
    ) -> Result<(&'s OidcProvider, oidc::Unverified), StsError> {
        let role_arn = required(params, "RoleArn", 20, 2048)?;
        let token = required(params, "WebIdentityToken", 4, 20_000)?;
        let head = oidc::peek(token).map_err(web_identity_error)?;
        let account = role_arn.split(':').nth(4).unwrap_or_default();
        let arn = oidc::provider_arn(account, &head.issuer);
        let provider = snapshot.oidc_provider(&arn).ok_or_else(|| {
            StsError::new(
                "InvalidIdentityToken",
                400,
                format!(
                    "No OpenIDConnect provider found in your account for {}",
                    head.issuer
                ),
            )
        })?;
        Ok((provider, head))
    }

    /// `AssumeRoleWithWebIdentity`, once the provider's keys are at hand.
    pub fn assume_role_with_web_identity(
        &self,
        call: &Call<'_>,
        provider: &OidcProvider,
        keys: &JwkSet,
    ) -> Result<StsResponse, StsError> {
        let params = call.params;
        let role_arn = required(params, "RoleArn", 20, 2048)?;
        let session_name = role_session_name(params)?;
        let token = required(params, "WebIdentityToken", 4, 20_000)?;
        let identity = oidc::verify(token, provider, keys, call.now).map_err(web_identity_error)?;
        let denied =
            || StsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
        let role = role(call.snapshot, role_arn).ok_or_else(denied)?;
        let duration = duration_param(params, 3600, 43_200)?;
        if duration > i64::from(role.max_session_duration.unwrap_or(3600)) {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let requested = SessionRequest::parse(call.snapshot, params)?;
        let mut context = identity.context();
        context.merge(call.environment.clone());
        context.insert("aws:PrincipalType", "WebIdentity");
        context.insert("sts:RoleSessionName", session_name);
        let principal = Principal::web_identity(&provider.arn);
        let decision = trust_decision(
            &Policies {
                identity: None,
                boundary: None,
                session: None,
                resource: role.trust.as_ref(),
                resource_owner: role.principal.account(),
            },
            &principal,
            "sts:AssumeRoleWithWebIdentity",
            role_arn,
            &context,
        );
        if !decision.is_allowed() {
            return Err(denied());
        }
        let carried = Carried {
            federated_provider: Some(provider.arn.clone()),
            ..Carried::default()
        };
        let session = self.role_session(call, role, session_name, duration, &requested, carried)?;
        Ok(StsResponse::AssumeRoleWithWebIdentity(session, identity))
    }

    fn role_session(
        &self,
        call: &Call<'_>,
        role: &Identity,
        session_name: &str,
        duration: i64,
        requested: &SessionRequest,
        carried: Carried,
    ) -> Result<RoleSession, StsError> {
        let Carried {
            tags,
            transitive_tag_keys,
            mfa_time,
            source_identity,
            federated_provider,
            chained,
        } = carried;
        let role_arn = role.principal.arn();
        let account = role.principal.account().unwrap_or_default().to_owned();
        let packed = requested.packed_size(&tags);
        if packed > PACKED_POLICY_BUDGET {
            return Err(StsError::new(
                "PackedPolicyTooLarge",
                400,
                format!(
                    "Packed policy consumes {}% of allotted space, please use smaller policy.",
                    packed * 100 / PACKED_POLICY_BUDGET
                ),
            ));
        }
        let packed_policy_size =
            (requested.policy.is_some() || !requested.policy_arns.is_empty() || !tags.is_empty())
                .then(|| (packed * 100).div_ceil(PACKED_POLICY_BUDGET));
        let principal = Principal::assumed_role(role_arn, session_name)
            .map_err(|e| StsError::validation(e.to_string()))?;
        let credentials = self.issue(SessionClaims {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            account,
            subject: Subject::Role {
                arn: role_arn.to_owned(),
                id: role.id.clone(),
                session: session_name.to_owned(),
            },
            issued: call.now,
            expires: call.now + duration,
            policy: requested.policy.clone(),
            policy_arns: requested.policy_arns.clone(),
            tags,
            transitive_tag_keys,
            mfa_time,
            source_identity: source_identity.clone(),
            federated_provider,
            chained,
        })?;
        Ok(RoleSession {
            credentials,
            arn: principal.arn().to_owned(),
            assumed_role_id: format!("{}:{session_name}", role.id),
            packed_policy_size,
            source_identity,
        })
    }

    fn issue(&self, mut claims: SessionClaims) -> Result<Credentials, StsError> {
        let internal =
            |_| StsError::new("InternalFailure", 500, "The session could not be sealed.");
        let (id, secret) = self.keys.new_credentials().map_err(internal)?;
        claims.access_key_id = id.clone();
        claims.secret_access_key = secret.clone();
        let token = self.keys.seal(&claims).map_err(internal)?;
        Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: token,
            expiration: claims.expires,
        })
    }
}

fn web_identity_error(e: WebIdentityError) -> StsError {
    match e {
        WebIdentityError::Invalid(m) => StsError::new("InvalidIdentityToken", 400, m),
        WebIdentityError::Expired(m) => StsError::new("ExpiredTokenException", 400, m),
        WebIdentityError::Communication(m) => StsError::new("IDPCommunicationError", 400, m),
    }
}

/// Decides a role assumption: the trust policy as the role's resource policy. The evaluator
/// requires a trust policy to allow (the caller's identity policies alone never let it assume a
/// role); naming the account there delegates to the identity policies.
fn trust_decision(
    policies: &Policies<'_>,
    principal: &Principal,
    action: &str,
    role_arn: &str,
    context: &Context,
) -> Decision {
    policy::evaluate(
        policies,
        &Request {
            principal,
            action: &Action::new(action),
            resource: role_arn,
            context,
        },
    )
}

/// The STS operations that no policy governs, as the gateway serves them (AWS: "No permissions
/// are required"; an explicit deny does not stop them): `GetCallerIdentity` for every signed
/// caller, `GetSessionToken` for users and root. `Some(whether the caller may)` for those,
/// `None` for the operations that policies decide.
pub fn without_policy(action: &str, caller: &Principal) -> Option<bool> {
    let kind = caller.kind();
    if action.eq_ignore_ascii_case("sts:GetCallerIdentity") {
        Some(kind != PrincipalKind::Anonymous)
    } else if action.eq_ignore_ascii_case("sts:GetSessionToken") {
        Some(matches!(kind, PrincipalKind::User | PrincipalKind::Account))
    } else {
        None
    }
}

fn role<'s>(snapshot: &'s Snapshot, arn: &str) -> Option<&'s Identity> {
    snapshot
        .identity(arn)
        .map(Arc::as_ref)
        .filter(|i| i.principal.kind() == PrincipalKind::Role && i.trust.is_some())
}

fn required<'p>(
    params: &'p Params,
    name: &str,
    min: usize,
    max: usize,
) -> Result<&'p str, StsError> {
    let camel = camel(name);
    let value = params.get(name).ok_or_else(|| {
        StsError::validation(format!(
            "1 validation error detected: Value null at '{camel}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    let len = value.chars().count();
    if len < min || len > max {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value at '{camel}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    Ok(value)
}

fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn check_text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    pattern: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), StsError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    if !value.chars().all(allowed) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
        )));
    }
    Ok(())
}

fn role_session_name(params: &Params) -> Result<&str, StsError> {
    let name = required(params, "RoleSessionName", 2, 64)?;
    check_text("roleSessionName", name, 2, 64, "[\\w+=,.@-]*", |c| {
        c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
    })?;
    Ok(name)
}

fn duration_param(params: &Params, default: i64, max: i64) -> Result<i64, StsError> {
    let Some(text) = params.get("DurationSeconds") else {
        return Ok(default);
    };
    let value: i64 = text.parse().map_err(|_| {
        StsError::validation(format!(
            "1 validation error detected: Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ))
    })?;
    if value < 900 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if value > max {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(value)
}

fn merge_source_identity(
    inherited: Option<&str>,
    requested: Option<&str>,
) -> Result<Option<String>, StsError> {
    if let Some(r) = requested {
        check_text("sourceIdentity", r, 2, 64, "[\\w+=,.@-]*", |c| {
            c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
        })?;
        if r.to_ascii_lowercase().starts_with("aws:") {
            return Err(StsError::validation(
                "SourceIdentity may not begin with the prefix aws:",
            ));
        }
    }
    match (inherited, requested) {
        (Some(i), Some(r)) if i != r => Err(StsError::access_denied(
            "The source identity of a session cannot be changed once it is set.",
        )),
        (Some(i), _) => Ok(Some(i.to_owned())),
        (None, r) => Ok(r.map(str::to_owned)),
    }
}

/// What a role session carries besides its role, name, duration and requested policies.
#[derive(Default)]
struct Carried {
    /// The session's tags, the calling session's transitive ones first.
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    /// When MFA was last proven, Unix seconds.
    mfa_time: Option<i64>,
    source_identity: Option<String>,
    /// The OIDC provider's ARN, for a web identity session.
    federated_provider: Option<String>,
    /// Assumed by another role session.
    chained: bool,
}

/// The session policies and tags a request asks for.
struct SessionRequest {
    policy: Option<String>,
    policy_arns: Vec<String>,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
}

impl SessionRequest {
    fn parse(snapshot: &Snapshot, params: &Params) -> Result<SessionRequest, StsError> {
        let policy = match params.get("Policy") {
            None => None,
            Some(text) => {
                if text.chars().count() > 2048 {
                    return Err(StsError::validation(
                        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
                    ));
                }
                let parsed = Policy::parse("session policy", PolicyKind::Identity, text)
                    .map_err(|e| StsError::new("MalformedPolicyDocument", 400, e.to_string()))?;
                drop(parsed);
                // Kept minified: the token carries it and the packed size counts it.
                let minified = serde_json::from_str::<serde_json::Value>(text)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| text.to_owned());
                Some(minified)
            }
        };
        let arns: Vec<String> = params
            .members("PolicyArns", Some("arn"))
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        if arns.len() > 10 {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
            ));
        }
        for arn in &arns {
            if snapshot.managed_policy(arn).is_none() {
                return Err(StsError::new(
                    "MalformedPolicyDocument",
                    400,
                    format!("Policy {arn} does not exist or is not attachable."),
                ));
            }
        }
        let keys = params.members("Tags", Some("Key"));
        let values = params.members("Tags", Some("Value"));
        if keys.len() > 50 {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
            ));
        }
        let tag_char = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
        let mut tags: Vec<(String, String)> = Vec::new();
        for (i, key) in &keys {
            let value = values
                .iter()
                .find(|(j, _)| j == i)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            check_text(
                "tags.member.key",
                key,
                1,
                128,
                "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
                tag_char,
            )?;
            check_text(
                "tags.member.value",
                &value,
                0,
                256,
                "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
                tag_char,
            )?;
            if key.to_ascii_lowercase().starts_with("aws:") {
                return Err(StsError::validation(
                    "Tag keys may not begin with the prefix aws:",
                ));
            }
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(StsError::new(
                    "InvalidParameterValue",
                    400,
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
            tags.push((key.clone(), value));
        }
        let transitive: Vec<String> = params
            .members("TransitiveTagKeys", None)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        for key in &transitive {
            if !tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(StsError::new(
                    "InvalidParameterValue",
                    400,
                    format!("The specified transitive tag key {key} must be included in the requested tags."),
                ));
            }
        }
        Ok(SessionRequest {
            policy,
            policy_arns: arns,
            tags,
            transitive,
        })
    }

    /// The session's tags: the caller session's transitive tags, which may not be overridden,
    /// then the requested ones.
    #[allow(clippy::type_complexity)]
    fn merge_tags(
        &self,
        source: Option<&SessionClaims>,
    ) -> Result<(Vec<(String, String)>, Vec<String>), StsError> {
        let mut tags = Vec::new();
        let mut transitive = Vec::new();
        if let Some(source) = source {
            for key in &source.transitive_tag_keys {
                if let Some((k, v)) = source
                    .tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                {
                    if self.tags.iter().any(|(r, _)| r.eq_ignore_ascii_case(k)) {
                        return Err(StsError::new(
                            "InvalidParameterValue",
                            400,
                            format!("One or more tags in the request ({k}) conflict with transitive tags of the calling session."),
                        ));
                    }
                    tags.push((k.clone(), v.clone()));
                    transitive.push(k.clone());
                }
            }
        }
        tags.extend(self.tags.iter().cloned());
        transitive.extend(self.transitive.iter().cloned());
        Ok((tags, transitive))
    }

    fn add_request_tags(&self, context: &mut Context) {
        if self.tags.is_empty() {
            return;
        }
        for (k, v) in &self.tags {
            context.insert(&format!("aws:RequestTag/{k}"), v.as_str());
        }
        context.insert_values(
            "aws:TagKeys",
            self.tags.iter().map(|(k, _)| k.clone()).collect(),
        );
        if !self.transitive.is_empty() {
            context.insert_values("sts:TransitiveTagKeys", self.transitive.clone());
        }
    }

    fn packed_size(&self, tags: &[(String, String)]) -> usize {
        self.policy.as_ref().map_or(0, String::len)
            + self.policy_arns.iter().map(String::len).sum::<usize>()
            + tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}
