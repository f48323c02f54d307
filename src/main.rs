//! The iamgate binary: the gateway (`iamgate`, `iamgate serve`) and its tools (validate, simulate, validate-policy).
#![forbid(unsafe_code)]

/// mimalloc: a request allocates and frees many small, short-lived blocks across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    iamgate::cli::main()
}
