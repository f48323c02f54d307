#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    iamgate::cli::main()
}
