//! Route tables are part of the configuration: `iamgate validate` (and `iamgate serve`) refuse a
//! bad table as any other configuration error, naming the upstream, the entry and the key, and
//! exit non-zero; a good table, and the demo configuration, validate.

mod support;
use support::{GatewayConfig, Route, Scratch};

use std::path::Path;
use std::process::{Command, Output};

/// A folder with the demo store and an `iamgate.toml`: the demo S3 upstream and the `orders`
/// table (`routes[0]` `GET /orders/{id}`, `routes[1]` `POST /orders/{id}`), then `more` (TOML).
fn folder(more: &str) -> Scratch {
    let scratch = Scratch::gateway("config-routes");
    let config = GatewayConfig::demo()
        .decisions("off")
        .orders("http://127.0.0.1:9", &[Route::GetOrder, Route::UpdateOrder])
        .extra(more);
    scratch.write("iamgate.toml", &config.text());
    scratch
}

/// One more entry of the `orders` table.
fn route(method: &str, path: &str, action: &str, resource_type: &str, resource: &str) -> String {
    format!(
        "[[upstreams.orders.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
         action = \"{action}\"\nresource_type = \"{resource_type}\"\nresource = \"{resource}\"\n"
    )
}

fn iamgate(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// What the configuration error says: the file, then one line.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "exit 0:\n{stderr}");
    stderr
}

#[test]
fn validate_refuses_a_route_with_an_undeclared_action_naming_upstream_entry_and_key() {
    let folder = folder(&route("PUT", "/orders/{id}", "PutOrder", "order", "*"));
    let config = folder.join("iamgate.toml");
    let out = iamgate(&["validate"], &config);
    let said = refused(&out);
    assert_eq!(
        said.trim_end(),
        format!(
            "{}: key `upstreams.orders.routes[2].action`: PUT /orders/{{id}}: the action \
             'PutOrder' is not declared in `actions`",
            config.display()
        )
    );
    // It stopped at the configuration: the store was not loaded.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `serve` refuses it with the same words, before listening.
    let served = refused(&iamgate(&["serve"], &config));
    assert!(served.contains(said.trim_end()), "{served}");
}

#[test]
fn validate_refuses_a_route_with_an_unknown_key_a_bad_template_or_a_wrong_type() {
    let unknown_key = folder(&format!(
        "{}weight = 3\n",
        route("PUT", "/orders/{id}", "GetOrder", "order", "*")
    ));
    let said = refused(&iamgate(&["validate"], &unknown_key.join("iamgate.toml")));
    assert!(
        said.contains("key `upstreams.orders.routes[2]`: unknown field `weight`"),
        "{said}"
    );

    let bad_path = folder(&route(
        "DELETE",
        "/orders/{id}/../x",
        "GetOrder",
        "order",
        "*",
    ));
    let said = refused(&iamgate(&["validate"], &bad_path.join("iamgate.toml")));
    assert!(
        said.contains(
            "key `upstreams.orders.routes[2].path`: DELETE /orders/{id}/../x: invalid path \
             template: '.' and '..' segments are not allowed"
        ),
        "{said}"
    );

    let wrong_type = folder(
        &route("PUT", "/orders/{id}", "GetOrder", "order", "*")
            .replace("resource = \"*\"", "resource = [\"*\"]"),
    );
    let said = refused(&iamgate(&["validate"], &wrong_type.join("iamgate.toml")));
    assert!(
        said.contains("key `upstreams.orders.routes[2]`: invalid type: sequence")
            && said.contains("in `resource`"),
        "{said}"
    );
}

#[test]
fn a_good_route_table_validates() {
    let folder = folder(&route("PUT", "/orders/{id}", "GetOrder", "order", "*"));
    let out = iamgate(&["validate"], &folder.join("iamgate.toml"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 accounts"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_demo_configuration_validates() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("iamgate.toml");
    let out = iamgate(&["validate"], &demo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_and_validate_policy_without_config_read_the_folders_iamgate_toml() {
    let folder = folder(&route("PUT", "/orders/{id}", "PutOrder", "order", "*"));
    let in_folder = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_iamgate"))
            .args(args)
            .current_dir(folder.path())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    // A bad ./iamgate.toml is an error, not a reason to fall back to the defaults.
    let said = refused(&in_folder(&["validate"]));
    assert!(said.contains("upstreams.orders.routes[2].action"), "{said}");
    let said = refused(&in_folder(&[
        "validate-policy",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        "--policy-type",
        "IDENTITY_POLICY",
    ]));
    assert!(said.contains("upstreams.orders.routes[2].action"), "{said}");
    // Without one, the defaults: ./policies.
    std::fs::remove_file(folder.join("iamgate.toml")).unwrap();
    let out = in_folder(&["validate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
