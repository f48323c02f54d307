//! The command line: the policy simulators (and, as the gateway grows, `serve` and `validate`).

pub mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Evaluate policies given on the command line, as `aws iam simulate-custom-policy` does.
    SimulateCustomPolicy(simulate::CustomPolicyArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::SimulateCustomPolicy(args)) => match simulate::simulate_custom(&args) {
            Ok(simulation) => {
                match args.output {
                    simulate::OutputFormat::Json => {
                        println!("{:#}", simulation.to_json());
                    }
                    simulate::OutputFormat::Text => print!("{}", simulation.to_text()),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("iamgate: {e}");
                ExitCode::FAILURE
            }
        },
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
    }
}
