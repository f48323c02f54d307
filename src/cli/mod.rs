//! The command line: the policy simulators, `validate` (and, as the gateway grows, `serve`).

pub mod simulate;

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
    /// Load the policy store, print every problem, exit non-zero on any.
    Validate(ValidateArgs),
    /// Evaluate policies given on the command line, as `aws iam simulate-custom-policy` does.
    SimulateCustomPolicy(simulate::CustomPolicyArgs),
    /// Evaluate what a user, group or role of the store may do, as
    /// `aws iam simulate-principal-policy` does.
    SimulatePrincipalPolicy(simulate::PrincipalPolicyArgs),
}

/// The options of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The policy store.
    #[arg(long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Validate(args)) => validate(&args),
        Some(Command::SimulateCustomPolicy(args)) => {
            print_simulation(simulate::simulate_custom(&args), args.output)
        }
        Some(Command::SimulatePrincipalPolicy(args)) => {
            print_simulation(simulate::simulate_principal(&args), args.output)
        }
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
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

fn validate(args: &ValidateArgs) -> ExitCode {
    let started = std::time::Instant::now();
    match crate::store::load(&args.policies) {
        Ok(snapshot) => {
            let s = snapshot.summary();
            println!(
                "{}: {} accounts, {} principals, {} policies with {} statements, {} access keys, {} resources; loaded in {:.1} ms",
                args.policies.display(),
                s.accounts,
                s.principals,
                s.policies,
                s.statements,
                s.keys,
                s.resources,
                started.elapsed().as_secs_f64() * 1000.0
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!("{} problem(s) found", errors.0.len());
            ExitCode::FAILURE
        }
    }
}
