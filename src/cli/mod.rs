//! The command line: the policy simulators, `validate` (and, as the gateway grows, `serve`).

pub mod simulate;
pub mod validate_policy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// iamgate: AWS-IAM-style access control in front of HTTP services.
#[derive(Debug, Parser)]
#[command(name = "iamgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Check the configuration (route tables included), load the policy store and validate its
    /// policies: print every problem and finding, exit non-zero on a problem or an ERROR finding.
    Validate(ValidateArgs),
    /// Validate a policy as `aws accessanalyzer validate-policy` does.
    ValidatePolicy(validate_policy::ValidatePolicyArgs),
    /// Evaluate policies given on the command line, as `aws iam simulate-custom-policy` does.
    SimulateCustomPolicy(simulate::CustomPolicyArgs),
    /// Evaluate what a user, group or role of the store may do, as
    /// `aws iam simulate-principal-policy` does: the resources' policies come from the store,
    /// and context entries add to (and override) the keys the principal brings.
    SimulatePrincipalPolicy(simulate::PrincipalPolicyArgs),
}

/// The options of `serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, default_value = "iamgate.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// The policy store, in place of the configuration's.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

/// The options of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The configuration file (its policy store is validated unless --policies is given).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The policy store.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Validate(args)) => validate(&args),
        Some(Command::ValidatePolicy(args)) => match validate_policy::run(&args) {
            Ok(findings) => {
                print!("{}", validate_policy::render(&findings, args.output));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("iamgate: {e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::SimulateCustomPolicy(args)) => {
            print_simulation(simulate::simulate_custom(&args), args.evaluate.output)
        }
        Some(Command::SimulatePrincipalPolicy(args)) => {
            print_simulation(simulate::simulate_principal(&args), args.evaluate.output)
        }
        None => serve(&ServeArgs {
            config: PathBuf::from("iamgate.toml"),
            policies: None,
        }),
    }
}

fn print_simulation(
    result: Result<simulate::Simulation, simulate::SimulateError>,
    output: simulate::OutputFormat,
) -> ExitCode {
    match result {
        Ok(simulation) => {
            match output {
                simulate::OutputFormat::Json => println!("{:#}", simulation.to_json()),
                simulate::OutputFormat::Text => print!("{}", simulation.to_text()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("iamgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a file, a pipe or a log collector gets plain
    // text. `NO_COLOR` (https://no-color.org) turns them off at a terminal too.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

fn serve(args: &ServeArgs) -> ExitCode {
    init_logging();
    let mut config = match crate::config::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iamgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = &args.policies {
        config.policies = dir.clone();
    }
    if seeds_the_demo(&config) {
        // The demo's first start (a fresh clone): its store's files came with the checkout's
        // modes. Its keys are public examples, and the warning below is for real secrets.
        make_private(&readable_credentials(&config.policies));
    }
    for path in readable_credentials(&config.policies) {
        tracing::warn!(
            file = %path.display(),
            "credentials.json holds secret keys and is readable by group or others; `chmod 600` it"
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iamgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let running = match crate::proxy::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("iamgate: {e}");
                return ExitCode::FAILURE;
            }
        };
        log_summary(&running, started.elapsed());
        shutdown_signal().await;
        let grace = running.gateway.config.limits.shutdown_grace();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections, finishing requests in flight"
        );
        match running.stop().await {
            crate::proxy::Stopped::Drained => tracing::info!("stopped"),
            crate::proxy::Stopped::DeadlinePassed { open } => {
                tracing::warn!(open, "stopped with connections still open")
            }
        }
        ExitCode::SUCCESS
    })
}

/// The start-up summary: listeners, upstreams, what the store holds and how long it took.
fn log_summary(running: &crate::proxy::Running, took: std::time::Duration) {
    use crate::config::{DecisionSink, Target};
    let gateway = &running.gateway;
    let config = &gateway.config;
    let s = gateway.snapshot().summary();
    let load_micros = gateway
        .store()
        .stats
        .last_load_micros
        .load(std::sync::atomic::Ordering::Relaxed);
    let listener = |a: Option<std::net::SocketAddr>| a.map_or("off".to_owned(), |a| a.to_string());
    let decisions = match &config.log.decisions {
        DecisionSink::Off => "off".to_owned(),
        DecisionSink::Stdout => "stdout".to_owned(),
        DecisionSink::File(path) => path.display().to_string(),
    };
    tracing::info!(
        http = %listener(running.http),
        https = %listener(running.https),
        admin = %listener(running.admin),
        region = %config.region,
        decision_log = %decisions,
        "listening"
    );
    for u in &config.upstreams {
        let target = match &u.target {
            Target::Local(dir) => format!("local object store {}", dir.display()),
            Target::Url(uri) => uri.to_string(),
        };
        let kind = match &u.kind {
            crate::config::UpstreamKind::S3 { .. } => "s3".to_owned(),
            crate::config::UpstreamKind::Routes(table) => format!("routes ({})", table.service()),
        };
        tracing::info!(
            upstream = %u.name,
            kind = %kind,
            target = %target,
            hosts = ?u.hosts,
            dry_run = u.dry_run,
            signed = u.signing.is_some(),
            "upstream"
        );
    }
    tracing::info!(
        policies = %config.policies.display(),
        accounts = s.accounts,
        principals = s.principals,
        policy_documents = s.policies,
        statements = s.statements,
        access_keys = s.keys,
        resources = s.resources,
        load_ms = crate::audit::log_ms(std::time::Duration::from_micros(load_micros)),
        "policy store loaded"
    );
    tracing::info!(start_ms = crate::audit::log_ms(took), "iamgate is serving");
}

/// The `credentials.json` files of the store (`<dir>/<account>/credentials.json`) that group or
/// others may read (mode & 0o044): they hold secret access keys. Always empty off Unix.
pub fn readable_credentials(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(accounts) = std::fs::read_dir(dir) else {
            return found;
        };
        for account in accounts.flatten() {
            let path = account.path().join("credentials.json");
            if let Ok(meta) = std::fs::metadata(&path) {
                if meta.permissions().mode() & 0o044 != 0 {
                    found.push(path);
                }
            }
        }
        found.sort();
    }
    #[cfg(not(unix))]
    let _ = dir;
    found
}

/// Whether this start will seed a built-in object store with the demo (its folder is absent or
/// empty): the demo's first start.
fn seeds_the_demo(config: &crate::config::Config) -> bool {
    config.upstreams.iter().any(|u| match &u.target {
        crate::config::Target::Local(dir) => {
            crate::upstream::local::LocalStore::is_fresh(dir).unwrap_or(false)
        }
        crate::config::Target::Url(_) => false,
    })
}

/// Makes `files` readable and writable by their owner only (mode 0600), saying so for each.
/// A file that cannot be changed (another owner, a read-only mount) is left as it is.
fn make_private(files: &[PathBuf]) {
    #[cfg(unix)]
    for path in files {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::info!(
                file = %path.display(),
                "the demo store's credentials.json is now readable by its owner only (mode 0600)"
            ),
            Err(e) => tracing::debug!(file = %path.display(), "cannot change the mode: {e}"),
        }
    }
    #[cfg(not(unix))]
    let _ = files;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let (policies, catalog) = match (&args.policies, &args.config) {
        (Some(dir), config) => match validate_policy::catalog(config.as_deref()) {
            Ok(catalog) => (dir.clone(), catalog),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        (None, Some(path)) => match crate::config::Config::load(path) {
            Ok(c) => (c.policies.clone(), c.catalog()),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        // ./iamgate.toml when there is one (and then it must load), else the defaults.
        (None, None) if std::path::Path::new("iamgate.toml").exists() => {
            match crate::config::Config::load(std::path::Path::new("iamgate.toml")) {
                Ok(c) => (c.policies.clone(), c.catalog()),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (None, None) => (PathBuf::from("policies"), crate::analyzer::Catalog::aws()),
    };
    let loaded = crate::store::load(&policies);
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let validating = std::time::Instant::now();
    let findings = crate::store::validate_store(&policies, &catalog);
    let validate_ms = validating.elapsed().as_secs_f64() * 1000.0;
    let mut failed = false;
    match &loaded {
        Ok(snapshot) => {
            let s = snapshot.summary();
            println!(
                "{}: {} accounts, {} principals, {} policies with {} statements, {} access keys, {} resources; loaded in {load_ms:.1} ms, validated in {validate_ms:.1} ms",
                policies.display(),
                s.accounts,
                s.principals,
                s.policies,
                s.statements,
                s.keys,
                s.resources,
            );
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            failed = true;
        }
    }
    for f in &findings {
        eprintln!("{f}");
    }
    failed |= crate::store::has_errors(&findings);
    let problems = loaded.as_ref().err().map_or(0, |e| e.0.len());
    if problems > 0 || !findings.is_empty() {
        eprintln!(
            "{problems} problem(s) found; {} finding(s) in the policies ({} error(s))",
            findings.len(),
            findings
                .iter()
                .filter(|f| f.finding.finding_type == crate::analyzer::FindingType::Error)
                .count()
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn credentials_readable_by_others_are_found() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("iamgate-cred-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (account, mode) in [
            ("111122223333", 0o600),
            ("444455556666", 0o644),
            ("555566667777", 0o640),
        ] {
            std::fs::create_dir_all(dir.join(account)).unwrap();
            let file = dir.join(account).join("credentials.json");
            std::fs::write(&file, "[]").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let found = super::readable_credentials(&dir);
        assert_eq!(
            found,
            vec![
                dir.join("444455556666/credentials.json"),
                dir.join("555566667777/credentials.json")
            ]
        );
        assert!(super::readable_credentials(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
