//! Metrics in Prometheus' text format, served by the admin listener at `/metrics`.
//!
//! A small registry of atomics, written for the gateway, rather than the `prometheus-client`
//! crate: that crate's labelled families sit behind a `RwLock` that every increment takes,
//! and the gateway wants no lock on the request path and few dependencies. Here a labelled
//! counter is a map of series swapped atomically ([`ArcSwap`]): an increment reads the map
//! without a lock and bumps an `AtomicU64`; only the first request of a new label set takes a
//! mutex, copies the map and adds the series. Histograms are fixed arrays of atomic buckets.
//! The text is rendered at scrape time, from these counters and from the gauges the gateway
//! already keeps (open connections, snapshot generation, reload counters).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

/// Most series one labelled counter keeps; label sets beyond it are counted under `overflow`.
pub const MAX_SERIES: usize = 4096;

/// Shards of every counter and histogram. Each worker thread adds to its own shard, so that
/// two workers do not pass one cache line back and forth on every request (the atomic adds
/// were most of recording's cost under load); a scrape sums the shards.
const SHARDS: usize = 4;

/// This thread's shard: threads take them in turn as they first record.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// A value on a cache line of its own.
#[derive(Default)]
#[repr(align(64))]
struct Line<T>(T);

/// A counter in [`SHARDS`] parts.
#[derive(Default)]
struct ShardedCount([Line<AtomicU64>; SHARDS]);

impl ShardedCount {
    fn add(&self, n: u64) {
        self.0[shard()].0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().fold(0, |sum, line| {
            sum.wrapping_add(line.0.load(Ordering::Relaxed))
        })
    }
}

/// One series of a labelled counter.
struct Series<const N: usize> {
    labels: [Box<str>; N],
    value: ShardedCount,
}

/// A counter with `N` labels.
pub struct CounterVec<const N: usize> {
    name: &'static str,
    help: &'static str,
    label_names: [&'static str; N],
    series: ArcSwap<SeriesMap<N>>,
    grow: Mutex<()>,
}

/// Series by the hash of their labels (colliding label sets share a slot's vector).
type SeriesMap<const N: usize> = HashMap<u64, Vec<Arc<Series<N>>>, BuildHasherDefault<Prehashed>>;

/// FNV-1a over the labels, each ended by a byte no UTF-8 text holds. Not SipHash: the labels
/// are the gateway's own names (decisions, operations, upstreams, status codes), not a client's
/// text, and the series are capped at [`MAX_SERIES`]; this runs for every request.
fn hash_labels<const N: usize>(labels: &[&str; N]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for l in labels {
        for &b in l.as_bytes().iter().chain([0xff].iter()) {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    h
}

/// The map's keys are hashes already: used as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected (the keys are `u64`); anything else is folded in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<const N: usize> CounterVec<N> {
    /// A counter named `name` with the given label names.
    pub fn new(name: &'static str, help: &'static str, label_names: [&'static str; N]) -> Self {
        CounterVec {
            name,
            help,
            label_names,
            series: ArcSwap::from_pointee(SeriesMap::default()),
            grow: Mutex::new(()),
        }
    }

    fn find<'m>(map: &'m SeriesMap<N>, hash: u64, labels: &[&str; N]) -> Option<&'m Series<N>> {
        map.get(&hash)?
            .iter()
            .find(|s| s.labels.iter().zip(labels).all(|(a, b)| &**a == *b))
            .map(|s| &**s)
    }

    /// Adds `n` to the series of `labels`.
    pub fn add(&self, labels: [&str; N], n: u64) {
        let hash = hash_labels(&labels);
        if let Some(series) = Self::find(&self.series.load(), hash, &labels) {
            series.value.add(n);
            return;
        }
        self.grow_and_add(labels, hash, n);
    }

    /// Adds one to the series of `labels`.
    pub fn inc(&self, labels: [&str; N]) {
        self.add(labels, 1);
    }

    /// The first request of a label set: add its series (copy on write, under a mutex).
    #[cold]
    fn grow_and_add(&self, mut labels: [&str; N], mut hash: u64, n: u64) {
        let _guard = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.series.load_full();
        if let Some(series) = Self::find(&current, hash, &labels) {
            series.value.add(n);
            return;
        }
        let count: usize = current.values().map(Vec::len).sum();
        if count >= MAX_SERIES {
            labels = [OVERFLOW; N];
            hash = hash_labels(&labels);
            if let Some(series) = Self::find(&current, hash, &labels) {
                series.value.add(n);
                return;
            }
        }
        let mut next = (*current).clone();
        let series = Series {
            labels: labels.map(Box::from),
            value: ShardedCount::default(),
        };
        series.value.add(n);
        next.entry(hash).or_default().push(Arc::new(series));
        self.series.store(Arc::new(next));
    }

    /// The value of the series of `labels` (0 when it does not exist).
    pub fn get(&self, labels: [&str; N]) -> u64 {
        Self::find(&self.series.load(), hash_labels(&labels), &labels).map_or(0, |s| s.value.get())
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        let map = self.series.load();
        let mut rows: Vec<(String, u64)> = map
            .values()
            .flatten()
            .map(|s| {
                let labels: Vec<(&str, &str)> = self
                    .label_names
                    .iter()
                    .copied()
                    .zip(s.labels.iter().map(|l| &**l))
                    .collect();
                (label_set(&labels), s.value.get())
            })
            .collect();
        rows.sort();
        for (labels, value) in rows {
            let _ = writeln!(out, "{}{labels} {value}", self.name);
        }
    }
}

/// The label value of series beyond [`MAX_SERIES`].
pub const OVERFLOW: &str = "overflow";

/// Bucket upper bounds: 1 µs, 2 µs, 4 µs, ... 2^26 µs (about 67 s), then +Inf.
const BUCKETS: usize = 27;

/// A latency histogram with exponential buckets from 1 µs.
pub struct Histogram {
    name: &'static str,
    help: &'static str,
    shards: [HistogramShard; SHARDS],
}

/// One thread's part of a histogram: its buckets and sum on lines no other thread adds to (the
/// count is the buckets' sum).
#[repr(align(64))]
struct HistogramShard {
    buckets: [AtomicU64; BUCKETS + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// A histogram named `name` (in seconds, as Prometheus wants).
    pub fn new(name: &'static str, help: &'static str) -> Histogram {
        Histogram {
            name,
            help,
            shards: std::array::from_fn(|_| HistogramShard {
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                sum_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// The index of the smallest bucket that holds `d`.
    fn bucket(d: Duration) -> usize {
        let micros = d.as_nanos().div_ceil(1000);
        if micros <= 1 {
            return 0;
        }
        let micros = u64::try_from(micros).unwrap_or(u64::MAX);
        let i = (64 - (micros - 1).leading_zeros()) as usize;
        i.min(BUCKETS)
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let shard = &self.shards[shard()];
        shard.buckets[Self::bucket(d)].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        shard.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        (0..=BUCKETS).fold(0, |sum, i| {
            sum.wrapping_add(self.sum(|shard| &shard.buckets[i]))
        })
    }

    /// A figure summed over the shards.
    fn sum(&self, field: impl Fn(&HistogramShard) -> &AtomicU64) -> u64 {
        self.shards.iter().fold(0, |sum, shard| {
            sum.wrapping_add(field(shard).load(Ordering::Relaxed))
        })
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        let mut cumulative = 0;
        for i in 0..=BUCKETS {
            cumulative += self.sum(|shard| &shard.buckets[i]);
            let le = if i == BUCKETS {
                "+Inf".to_owned()
            } else {
                format!("{}", (1u64 << i) as f64 / 1e6)
            };
            let _ = writeln!(out, "{}_bucket{{le=\"{le}\"}} {cumulative}", self.name);
        }
        let sum = self.sum(|shard| &shard.sum_nanos) as f64 / 1e9;
        let _ = writeln!(out, "{}_sum {sum}", self.name);
        let _ = writeln!(out, "{}_count {cumulative}", self.name);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `{a="x",b="y"}`, values escaped as the text format wants.
fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(name);
        s.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

/// Writes a gauge or a counter without labels.
fn single(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// The gateway's own counters and histograms.
pub struct Metrics {
    /// Requests by decision, action, upstream and status.
    pub requests: CounterVec<4>,
    /// Dry-run requests by upstream, action and what enforcement would have done.
    pub dry_run: CounterVec<3>,
    /// Upstream failures by upstream and kind (`timeout`, `unavailable`).
    pub upstream_errors: CounterVec<2>,
    /// Time to authenticate a request.
    pub authentication: Histogram,
    /// Time to evaluate a request's checks (context and policies).
    pub evaluation: Histogram,
    /// Time for an upstream to answer (to the response head).
    pub upstream: Histogram,
    /// Time from the request head to the response head.
    pub total: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics {
            requests: CounterVec::new(
                "iamgate_requests_total",
                "Requests by decision (allowed, explicitDeny, implicitDeny, rejected before a decision), action, upstream and HTTP status.",
                ["decision", "action", "upstream", "status"],
            ),
            dry_run: CounterVec::new(
                "iamgate_dry_run_requests_total",
                "Requests to dry-run upstreams, forwarded regardless, by what enforcement would have done (would_allow, would_deny).",
                ["upstream", "action", "enforcement"],
            ),
            upstream_errors: CounterVec::new(
                "iamgate_upstream_errors_total",
                "Upstream failures by upstream and kind (timeout, unavailable).",
                ["upstream", "kind"],
            ),
            authentication: Histogram::new(
                "iamgate_authentication_duration_seconds",
                "Time to authenticate a request (signature and caller).",
            ),
            evaluation: Histogram::new(
                "iamgate_evaluation_duration_seconds",
                "Time to build the request context and evaluate every check.",
            ),
            upstream: Histogram::new(
                "iamgate_upstream_duration_seconds",
                "Time for the upstream to answer, to the response head.",
            ),
            total: Histogram::new(
                "iamgate_request_duration_seconds",
                "Time from the request head to the response head.",
            ),
        }
    }

    /// The text exposition of these metrics and of the gauges in `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.requests.render(&mut out);
        self.dry_run.render(&mut out);
        self.upstream_errors.render(&mut out);
        self.authentication.render(&mut out);
        self.evaluation.render(&mut out);
        self.upstream.render(&mut out);
        self.total.render(&mut out);
        header(
            &mut out,
            "iamgate_policy_reloads_total",
            "Policy store reloads by outcome (success, failure).",
            "counter",
        );
        let _ = writeln!(
            out,
            "iamgate_policy_reloads_total{{outcome=\"success\"}} {}",
            gauges.reloads_succeeded
        );
        let _ = writeln!(
            out,
            "iamgate_policy_reloads_total{{outcome=\"failure\"}} {}",
            gauges.reloads_failed
        );
        single(
            &mut out,
            "iamgate_policy_generation",
            "Generation of the policy snapshot in force (1 at start, +1 per successful reload).",
            "gauge",
            gauges.generation,
        );
        single(
            &mut out,
            "iamgate_policy_load_seconds",
            "How long the last successful load of the policy store took.",
            "gauge",
            gauges.load_micros as f64 / 1e6,
        );
        if let Some((succeeded, failed)) = gauges.tls_reloads {
            header(
                &mut out,
                "iamgate_tls_reloads_total",
                "TLS certificate reloads by outcome (success, failure).",
                "counter",
            );
            let _ = writeln!(
                out,
                "iamgate_tls_reloads_total{{outcome=\"success\"}} {succeeded}"
            );
            let _ = writeln!(
                out,
                "iamgate_tls_reloads_total{{outcome=\"failure\"}} {failed}"
            );
        }
        single(
            &mut out,
            "iamgate_open_connections",
            "Client connections open now.",
            "gauge",
            gauges.open_connections,
        );
        single(
            &mut out,
            "iamgate_upstream_connections",
            "Connections open to the upstreams, idle or in use (at most upstream_connections_per_worker per upstream and worker).",
            "gauge",
            gauges.upstream_connections,
        );
        single(
            &mut out,
            "iamgate_upstream_waiting_requests",
            "Requests waiting now for an upstream connection to come free.",
            "gauge",
            gauges.upstream_waiting,
        );
        single(
            &mut out,
            "iamgate_upstream_waits_total",
            "Requests that have had to wait for an upstream connection to come free.",
            "counter",
            gauges.upstream_waits,
        );
        single(
            &mut out,
            "iamgate_decision_log_records_total",
            "Decision log records written.",
            "counter",
            gauges.log_written,
        );
        single(
            &mut out,
            "iamgate_decision_log_dropped_total",
            "Decision log records dropped because the queue to the sink was full or the sink failed.",
            "counter",
            gauges.log_dropped,
        );
        out
    }
}

/// Values read at scrape time from the rest of the gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Successful policy reloads.
    pub reloads_succeeded: u64,
    /// Failed policy reloads.
    pub reloads_failed: u64,
    /// The snapshot generation.
    pub generation: u64,
    /// The last load's duration, in microseconds.
    pub load_micros: u64,
    /// Open client connections.
    pub open_connections: usize,
    /// Open connections to the upstreams, idle or in use.
    pub upstream_connections: usize,
    /// Requests waiting for an upstream connection now.
    pub upstream_waiting: usize,
    /// Requests that have had to wait for an upstream connection, since the start.
    pub upstream_waits: u64,
    /// Decision log records written.
    pub log_written: u64,
    /// Decision log records dropped.
    pub log_dropped: u64,
    /// TLS certificate reloads (succeeded, failed), when there is a TLS listener.
    pub tls_reloads: Option<(u64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_across_the_shards() {
        let counter = CounterVec::new("t_total", "test", ["a"]);
        let histogram = Histogram::new("t_seconds", "test");
        std::thread::scope(|scope| {
            for _ in 0..(2 * SHARDS + 1) {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counter.inc(["x"]);
                        histogram.observe(Duration::from_micros(3));
                    }
                });
            }
        });
        let n = (2 * SHARDS as u64 + 1) * 1000;
        assert_eq!(counter.get(["x"]), n);
        assert_eq!(histogram.count(), n);
        let mut text = String::new();
        histogram.render(&mut text);
        assert!(
            text.contains(&format!("t_seconds_bucket{{le=\"0.000004\"}} {n}\n")),
            "{text}"
        );
        assert!(text.contains(&format!("t_seconds_count {n}\n")), "{text}");
        let sum = (n * 3000) as f64 / 1e9;
        assert!(text.contains(&format!("t_seconds_sum {sum}\n")), "{text}");
    }

    #[test]
    fn many_label_sets_each_keep_their_count() {
        let c = CounterVec::new("t_total", "test", ["a", "b"]);
        for i in 0..500u64 {
            for _ in 0..=i % 3 {
                c.inc([&i.to_string(), "x"]);
            }
        }
        for i in 0..500u64 {
            assert_eq!(c.get([&i.to_string(), "x"]), i % 3 + 1);
        }
        // The labels' boundaries and order are part of the set.
        assert_eq!(c.get(["x", "0"]), 0);
        assert_eq!(c.get(["1", "0x"]), 0);
        assert_eq!(c.get(["10", "x"]), 2);
    }

    #[test]
    fn buckets_are_exponential_from_one_microsecond() {
        assert_eq!(Histogram::bucket(Duration::from_nanos(0)), 0);
        assert_eq!(Histogram::bucket(Duration::from_nanos(999)), 0);
        assert_eq!(Histogram::bucket(Duration::from_micros(1)), 0);
        assert_eq!(Histogram::bucket(Duration::from_nanos(1001)), 1);
        assert_eq!(Histogram::bucket(Duration::from_micros(2)), 1);
        assert_eq!(Histogram::bucket(Duration::from_micros(3)), 2);
        assert_eq!(Histogram::bucket(Duration::from_micros(1024)), 10);
        assert_eq!(Histogram::bucket(Duration::from_secs(3600)), BUCKETS);
    }

    #[test]
    fn histogram_text_is_cumulative() {
        let h = Histogram::new("t_seconds", "test");
        h.observe(Duration::from_micros(1));
        h.observe(Duration::from_micros(3));
        h.observe(Duration::from_secs(1000));
        let mut out = String::new();
        h.render(&mut out);
        assert!(
            out.contains("t_seconds_bucket{le=\"0.000001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("t_seconds_bucket{le=\"0.000002\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("t_seconds_bucket{le=\"0.000004\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("t_seconds_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("t_seconds_count 3\n"), "{out}");
    }

    #[test]
    fn counters_by_label_set_and_escaping() {
        let c = CounterVec::new("c_total", "test", ["a", "b"]);
        c.inc(["x", "y"]);
        c.inc(["x", "y"]);
        c.add(["x", "q\"\\\n"], 5);
        assert_eq!(c.get(["x", "y"]), 2);
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("c_total{a=\"x\",b=\"y\"} 2\n"), "{out}");
        assert!(
            out.contains("c_total{a=\"x\",b=\"q\\\"\\\\\\n\"} 5\n"),
            "{out}"
        );
    }

    #[test]
    fn label_sets_beyond_the_cap_overflow() {
        let c = CounterVec::new("c_total", "test", ["a"]);
        for i in 0..MAX_SERIES + 10 {
            c.inc([&i.to_string()]);
        }
        assert_eq!(c.get([OVERFLOW]), 10);
        assert_eq!(c.get(["0"]), 1);
    }
}
