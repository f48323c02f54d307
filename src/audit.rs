//! The decision log: one JSON line per request, shaped like a CloudTrail record (so that tools
//! which read CloudTrail read it), plus an `iamgate` object with the decision of every check,
//! why, the snapshot generation and the time spent in each stage.
//!
//! Records are written off the request path: the pipeline hands a record to a bounded queue
//! (`try_send`, never waiting) and a writer thread serialises and writes it. When the queue is
//! full, the record is dropped and counted (`iamgate_decision_log_dropped_total`), and a warning
//! says so at most every [`WARN_EVERY`]. A slow sink never slows a request.
//!
//! Nothing secret goes in: no `Authorization` header, no signature, no session token (the
//! `X-Amz-*` query parameters are left out of `requestParameters`, and the request's own
//! signature and token values are scrubbed from every free-text field).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::config::{DecisionSink, LogConfig};

/// The `eventVersion` of the records (CloudTrail's current record version).
pub const EVENT_VERSION: &str = "1.09";

/// The least time between two warnings about dropped records.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// A duration in milliseconds rounded to a tenth, for the fields of the gateway's own log lines
/// (`start_ms=44.7`, not `44.734823999999996`).
pub fn log_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Why the decision log cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log file cannot be opened.
    #[error("cannot open the decision log {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the decision log writer: {0}")]
    Thread(std::io::Error),
}

/// One decision log record.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// [`EVENT_VERSION`].
    pub event_version: &'static str,
    /// When the request arrived, UTC, `2026-11-28T02:17:35Z`.
    pub event_time: String,
    /// `s3.amazonaws.com`, or the route table's service + `.amazonaws.com`.
    pub event_source: String,
    /// The S3 operation or the route's action name.
    pub event_name: String,
    /// The gateway's region.
    pub aws_region: String,
    /// The client's address (after trusted proxies).
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Who made the request.
    pub user_identity: UserIdentity,
    /// Bucket and key, the query parameters (authentication ones left out), or the route's
    /// parameters.
    pub request_parameters: serde_json::Map<String, serde_json::Value>,
    /// `null` for proxied requests (the gateway does not read responses); for STS calls, what
    /// CloudTrail records of the answer: the session's ARN and id, the temporary access key id
    /// and expiry (never the secret or the token).
    pub response_elements: Option<serde_json::Map<String, serde_json::Value>>,
    /// How the request was signed.
    pub additional_event_data: AdditionalEventData,
    /// The request id, as in the response's `x-amz-request-id`.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// A unique id for the record.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the request only reads (GET, HEAD).
    pub read_only: bool,
    /// The resources the request touches.
    pub resources: Vec<ResourceRef>,
    /// `AwsApiCall`.
    pub event_type: &'static str,
    /// `false`: these are data events.
    pub management_event: bool,
    /// The account that owns the resource, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
    /// The error code the client received, when it received one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message the client received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The gateway's own fields.
    pub iamgate: Details,
}

/// CloudTrail's `userIdentity`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSAccount` (anonymous), `Unknown`
    /// (the caller could not be authenticated).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The unique id (`AIDA...`, `AROA...:session`, the account id for root, empty otherwise).
    pub principal_id: String,
    /// The caller's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The caller's account, or `anonymous`.
    pub account_id: String,
    /// The access key the request was signed with (claimed, for a request that failed
    /// authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// A user's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// CloudTrail's `additionalEventData` for S3.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AdditionalEventData {
    /// `SigV4`, `SigV4A`, or absent for unsigned requests.
    #[serde(rename = "SignatureVersion", skip_serializing_if = "Option::is_none")]
    pub signature_version: Option<&'static str>,
    /// `AuthHeader` or `QueryString`.
    #[serde(
        rename = "AuthenticationMethod",
        skip_serializing_if = "Option::is_none"
    )]
    pub authentication_method: Option<&'static str>,
}

/// A resource the request touches: `{"type": "AWS::S3::Object", "ARN": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    /// The owning account, when known.
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `AWS::S3::Object`, `AWS::S3::Bucket`, or `AWS::<Service>::<Type>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// The gateway's fields of a record.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    /// `allowed`, `explicitDeny`, `implicitDeny`; `null` when the request was refused before a
    /// decision (authentication, an invalid request).
    pub decision: Option<&'static str>,
    /// `enforced`, or for a dry-run upstream what enforcement would have done: `would allow`,
    /// `would deny`.
    pub enforcement: &'static str,
    /// Whether the upstream is in dry-run mode.
    pub dry_run: bool,
    /// The stage that refused the request, for a request refused before a decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_at: Option<&'static str>,
    /// Every check and its decision, with why.
    pub checks: Vec<CheckRecord>,
    /// Checks left out of `checks` (a DeleteObjects of many keys keeps the first
    /// [`MAX_CHECKS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub checks_omitted: usize,
    /// The upstream's name.
    pub upstream: String,
    /// The HTTP status sent to the client.
    pub status: u16,
    /// The policy snapshot generation the request was decided with.
    pub generation: u64,
    /// Microseconds spent in each stage.
    pub micros: StageMicros,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Most checks kept in one record.
pub const MAX_CHECKS: usize = 100;

/// One check's decision and explanation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRecord {
    /// The action, `s3:GetObject`.
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// `allowed`, `explicitDeny`, `implicitDeny`.
    pub decision: &'static str,
    /// The statements that decided it.
    pub matched_statements: Vec<MatchedRecord>,
    /// Condition keys a statement wanted but the request lacked.
    pub missing_context_keys: Vec<String>,
}

/// A statement that decided a check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchedRecord {
    /// The policy's name.
    pub policy: String,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
    /// Its position in the policy, from 0.
    pub index: usize,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// `IAM Policy`, `Resource Policy`, `PermissionsBoundaryPolicy`, `SessionPolicy`.
    pub source: &'static str,
}

/// Microseconds per stage; `null` for a stage the request did not reach.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageMicros {
    /// Signature and caller.
    pub authenticate: Option<u64>,
    /// Route: actions and resources.
    pub route: Option<u64>,
    /// Reading a body to authorise it.
    pub inspect: Option<u64>,
    /// Context and evaluation.
    pub evaluate: Option<u64>,
    /// The upstream, to its response head.
    pub upstream: Option<u64>,
    /// From the request head to the response head.
    pub total: u64,
}

/// The instants between the pipeline's stages.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    /// The request head arrived.
    pub started: Instant,
    /// Authentication done.
    pub authenticated: Option<Instant>,
    /// Routing done.
    pub routed: Option<Instant>,
    /// Inspection done.
    pub inspected: Option<Instant>,
    /// Evaluation done.
    pub evaluated: Option<Instant>,
    /// The upstream's time to its response head.
    pub upstream: Option<Duration>,
    /// Refused for the caller's request rate, once authenticated.
    pub throttled: bool,
}

impl Marks {
    /// Marks of a request that arrived at `started`.
    pub fn new(started: Instant) -> Marks {
        Marks {
            started,
            authenticated: None,
            routed: None,
            inspected: None,
            throttled: false,
            evaluated: None,
            upstream: None,
        }
    }

    /// Time spent authenticating.
    pub fn authentication(&self) -> Option<Duration> {
        Some(self.authenticated?.duration_since(self.started))
    }

    /// Time spent evaluating.
    pub fn evaluation(&self) -> Option<Duration> {
        let before = self.inspected.or(self.routed)?;
        Some(self.evaluated?.duration_since(before))
    }

    /// The stage a request refused before a decision stopped in.
    pub fn refused_at(&self) -> &'static str {
        if self.throttled {
            return "rateLimit";
        }
        match (self.authenticated, self.routed, self.inspected) {
            (None, _, _) => "authenticate",
            (Some(_), None, _) => "route",
            (Some(_), Some(_), None) => "inspect",
            _ => "evaluate",
        }
    }

    /// Microseconds per stage, `total` up to now.
    pub fn micros(&self) -> StageMicros {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let between = |a: Option<Instant>, b: Option<Instant>| Some(us(b?.duration_since(a?)));
        StageMicros {
            authenticate: self.authentication().map(us),
            route: between(self.authenticated, self.routed),
            inspect: between(self.routed, self.inspected),
            evaluate: self.evaluation().map(us),
            upstream: self.upstream.map(us),
            total: us(self.started.elapsed()),
        }
    }
}

/// The resource type CloudTrail gives an ARN: `AWS::S3::Object`, `AWS::S3::Bucket`, or
/// `AWS::<Service>::<Type>` from the ARN's resource part.
pub fn resource_type(arn: &str) -> String {
    if let Some(rest) = arn.strip_prefix("arn:aws:s3:::") {
        return if rest.contains('/') {
            "AWS::S3::Object".into()
        } else {
            "AWS::S3::Bucket".into()
        };
    }
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or("");
    let resource = parts.nth(2).unwrap_or("");
    let kind = resource
        .split(['/', ':'])
        .next()
        .filter(|k| !k.is_empty())
        .unwrap_or("Resource");
    format!("AWS::{}::{}", capitalise(service), capitalise(kind))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Values of one request that must never reach the log (its signatures and session token),
/// and the scrubbing of free text against them.
#[derive(Debug, Default)]
pub struct Redactor(Vec<String>);

impl Redactor {
    /// The secrets of a request: the `Signature=` of its `Authorization` header, its
    /// `X-Amz-Signature` and `X-Amz-Security-Token` query values (raw and decoded), and its
    /// `X-Amz-Security-Token` header.
    pub fn of(headers: &http::HeaderMap, query: Option<&str>) -> Redactor {
        let mut secrets = Vec::new();
        for value in headers.get_all(http::header::AUTHORIZATION) {
            let value = String::from_utf8_lossy(value.as_bytes());
            if let Some(at) = value.find("Signature=") {
                let sig = value[at + "Signature=".len()..]
                    .split([',', ' '])
                    .next()
                    .unwrap_or("");
                secrets.push(sig.to_owned());
            }
        }
        for value in headers.get_all("x-amz-security-token") {
            secrets.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        for (name, value) in crate::query::raw_pairs(query.unwrap_or("")) {
            if is_auth_param(name) && !name.eq_ignore_ascii_case("x-amz-credential") {
                secrets.push(value.to_owned());
                let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                secrets.push(decoded.into_owned());
            }
        }
        // Short values (an empty parameter) would scrub innocent text.
        secrets.retain(|s| s.len() >= 8);
        secrets.sort();
        secrets.dedup();
        Redactor(secrets)
    }

    /// `text` with every secret of the request replaced by `[REDACTED]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        out
    }

    /// [`Redactor::scrub`], and for free text that quotes what a client sent (error messages,
    /// the user agent), every run of 40 or more hexadecimal digits too: what a malformed
    /// `Authorization` header carried may be a signature the request did not name as one.
    pub fn scrub_free_text(&self, text: &str) -> String {
        let text = self.scrub(text);
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if run.len() >= 40 {
                out.push_str("[REDACTED]");
            } else {
                out.push_str(run);
            }
            run.clear();
        };
        for c in text.chars() {
            if c.is_ascii_hexdigit() {
                run.push(c);
            } else {
                flush(&mut run, &mut out);
                out.push(c);
            }
        }
        flush(&mut run, &mut out);
        out
    }
}

/// Whether a query parameter is about authentication (left out of `requestParameters`):
/// every `X-Amz-*` parameter, and SigV2's `Signature` and `AWSAccessKeyId`.
pub fn is_auth_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-amz-") || lower == "signature" || lower == "awsaccesskeyid"
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `2026-11-28T02:17:35Z` for now.
pub fn event_time_now() -> String {
    crate::context::iso8601(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// A UUID-shaped event id, unique per request id within a process.
pub fn event_id(request_id: &str) -> String {
    let a = u64::from_str_radix(request_id, 16).unwrap_or(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let b = crate::ids::splitmix(a ^ nanos.rotate_left(17));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

enum Message {
    Record(Box<Record>),
    Flush(oneshot::Sender<()>),
}

/// Counters shared by the queue's two ends.
#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    /// Seconds since `epoch` of the last warning, plus one (0: never warned).
    last_warned: AtomicU64,
    epoch: Option<Instant>,
}

impl Counters {
    /// Counts a dropped record and warns, at most every [`WARN_EVERY`].
    fn drop_one(&self, why: &str) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(epoch) = self.epoch else { return };
        let now = epoch.elapsed().as_secs() + 1;
        let last = self.last_warned.load(Ordering::Relaxed);
        if (last == 0 || now >= last + WARN_EVERY.as_secs())
            && self
                .last_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = dropped,
                "decision log records dropped ({why}); see iamgate_decision_log_dropped_total"
            );
        }
    }
}

/// The decision log: a bounded queue to a writer thread.
pub struct DecisionLog {
    tx: Option<mpsc::Sender<Message>>,
    counters: Arc<Counters>,
}

impl DecisionLog {
    /// A log that writes nothing.
    pub fn off() -> DecisionLog {
        DecisionLog {
            tx: None,
            counters: Arc::default(),
        }
    }

    /// Opens the sink and starts the writer thread.
    pub fn open(config: &LogConfig) -> Result<DecisionLog, AuditError> {
        let sink: Box<dyn Write + Send> = match &config.decisions {
            DecisionSink::Off => return Ok(DecisionLog::off()),
            DecisionSink::Stdout => Box::new(std::io::stdout()),
            DecisionSink::File(path) => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AuditError::Open {
                        path: path.clone(),
                        source,
                    })?;
                Box::new(file)
            }
        };
        Self::with_writer(sink, config.queue)
    }

    /// A log that writes to `sink` through a queue of `capacity` records.
    pub fn with_writer(
        sink: Box<dyn Write + Send>,
        capacity: usize,
    ) -> Result<DecisionLog, AuditError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters {
            epoch: Some(Instant::now()),
            ..Counters::default()
        });
        let writer_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("iamgate-decisions".into())
            .spawn(move || write_loop(rx, sink, &writer_counters))
            .map_err(AuditError::Thread)?;
        Ok(DecisionLog {
            tx: Some(tx),
            counters,
        })
    }

    /// Whether records go anywhere.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a record; never waits. A full queue drops it (counted).
    pub fn submit(&self, record: Record) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Message::Record(Box::new(record))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.counters.drop_one("the queue is full"),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.drop_one("the writer has stopped")
            }
        }
    }

    /// Waits until every record queued before this call is written and flushed.
    pub async fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Records written.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Records dropped.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

fn write_loop(mut rx: mpsc::Receiver<Message>, sink: Box<dyn Write + Send>, counters: &Counters) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, sink);
    let mut line = Vec::with_capacity(2048);
    while let Some(message) = rx.blocking_recv() {
        match message {
            Message::Record(record) => {
                line.clear();
                if serde_json::to_writer(&mut line, &record).is_err() {
                    counters.drop_one("a record did not serialise");
                    continue;
                }
                line.push(b'\n');
                match out.write_all(&line) {
                    Ok(()) => {
                        counters.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => counters.drop_one("the sink failed to write"),
                }
            }
            Message::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
                continue;
            }
        }
        // Write out once the queue is empty: lines appear promptly, in batches under load.
        if rx.is_empty() && out.flush().is_err() {
            counters.drop_one("the sink failed to flush");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_milliseconds_are_rounded_to_a_tenth() {
        assert_eq!(log_ms(Duration::from_nanos(44_734_823)), 44.7);
        assert_eq!(log_ms(Duration::from_nanos(44_750_000)), 44.8);
        assert_eq!(log_ms(Duration::from_micros(20)), 0.0);
        assert_eq!(log_ms(Duration::from_secs(2)), 2000.0);
        // What the log line shows: the shortest decimal of the rounded value.
        assert_eq!(
            format!("{}", log_ms(Duration::from_nanos(44_734_823_999))),
            "44734.8"
        );
    }

    #[test]
    fn resource_types() {
        assert_eq!(resource_type("arn:aws:s3:::reports"), "AWS::S3::Bucket");
        assert_eq!(resource_type("arn:aws:s3:::reports/a/b"), "AWS::S3::Object");
        assert_eq!(
            resource_type("arn:aws:orders:us-east-1:111122223333:order/42"),
            "AWS::Orders::Order"
        );
        assert_eq!(resource_type("*"), "AWS::::Resource");
    }

    #[test]
    fn secrets_are_scrubbed_and_keys_claimed() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIAI44QH8DHBEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0123456789abcdef0123",
            ),
        );
        headers.insert(
            "x-amz-security-token",
            http::HeaderValue::from_static("SESSIONTOKENVALUE"),
        );
        let r = Redactor::of(&headers, Some("X-Amz-Signature=feedfacefeedface&a=b"));
        assert_eq!(
            r.scrub("x 0123456789abcdef0123 SESSIONTOKENVALUE feedfacefeedface"),
            "x [REDACTED] [REDACTED] [REDACTED]"
        );
        // The claimed key, as the record names it (read by the verifier's crate).
        let claimed = |headers: &http::HeaderMap, query| {
            let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
            crate::sigv4::Claim::read(pairs, query).and_then(|c| c.access_key_id())
        };
        assert_eq!(
            claimed(&headers, None).as_deref(),
            Some("AKIAI44QH8DHBEXAMPLE")
        );
        let q = "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            claimed(&http::HeaderMap::new(), Some(q)).as_deref(),
            Some("AKIAIOSFODNN7EXAMPLE")
        );
        let hex64 = "ab".repeat(32);
        assert_eq!(
            Redactor::default().scrub_free_text(&format!("component 'Signature {hex64}' x 0123")),
            "component 'Signature [REDACTED]' x 0123"
        );
        assert!(is_auth_param("X-Amz-Security-Token"));
        assert!(!is_auth_param("prefix"));
    }

    #[test]
    fn event_ids_look_like_uuids() {
        let id = event_id("0123456789ABCDEF");
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[14..15], "4");
    }
}
