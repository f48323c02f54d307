//! Real clients against the local object store: serves a `LocalStore` over plain HTTP on an
//! ephemeral 127.0.0.1 port and runs `tests/clients/local_store_clients.py`, which drives it with
//! the AWS CLI (`aws s3 cp/ls/sync/rm`, 20 MiB multipart both ways) and boto3 (put/get/list,
//! delete_objects, copy_object, multipart, managed transfers).
//!
//! The Python environment comes from `scripts/setup-python.sh` (boto3 and awscli from PyPI into
//! `target/pyenv`, or `$IAMGATE_PYENV`). If it cannot be created this test FAILS: it never passes
//! without having run the clients.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use iamgate::upstream::local::LocalStore;

/// Serves `store` on an ephemeral port from a background runtime; returns the address.
fn serve(store: LocalStore) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            tx.send(listener.local_addr().expect("local addr"))
                .expect("send addr");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let store = store.clone();
                        async move { Ok::<_, Infallible>(store.handle(req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    rx.recv().expect("server address")
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv with boto3 and the AWS CLI, created by scripts/setup-python.sh if needed.
fn python_env() -> PathBuf {
    let venv = std::env::var_os("IAMGATE_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/pyenv"));
    let out = Command::new("bash")
        .arg(manifest_dir().join("scripts/setup-python.sh"))
        .env("IAMGATE_PYENV", &venv)
        .output()
        .expect("could not run scripts/setup-python.sh");
    if !out.status.success() {
        panic!(
            "FAILED to create the Python environment with boto3 and the AWS CLI in {} \
             (scripts/setup-python.sh; it needs python3-venv and network access to PyPI on first \
             run). The real-client test cannot run without it.\nstdout:\n{}\nstderr:\n{}",
            venv.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    venv
}

fn fresh_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).expect("create test dir");
}

#[test]
fn aws_cli_and_boto3_against_the_local_store() {
    let venv = python_env();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("local_store_clients");
    fresh_dir(&base);
    let work = base.join("work");
    fresh_dir(&work);
    let store = LocalStore::open(base.join("store"), "us-east-1").expect("open store");
    let addr = serve(store);
    let endpoint = format!("http://{addr}");

    // Path-style addressing, no shared credentials or config of the machine.
    let config = base.join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n",
    )
    .expect("write aws config");

    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(venv.join("bin/python"))
        .arg(manifest_dir().join("tests/clients/local_store_clients.py"))
        .arg(&endpoint)
        .arg(&work)
        .env("PATH", path)
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCALSTORETEST01")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "local/store/test/secret/key/0000000000",
        )
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", base.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // The store refuses aws-chunked bodies (the gateway decodes them in production).
        .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        .env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
        .env("AWS_PAGER", "")
        .output()
        .expect("run the Python client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "client script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all client checks passed"));
    // Nothing left in the store's tmp folder.
    let leftovers: Vec<_> = std::fs::read_dir(base.join("store/tmp"))
        .expect("tmp dir")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
