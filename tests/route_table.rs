//! Route tables: configuration, compile-time checks, matching precedence, parameters, refusals.

use http::Method;
use iamgate::route::table::RouteTableConfig;
use iamgate::route::{RouteError, RouteTable, TableError, TableRoute};

const ORDERS: &str = r#"
service = "orders"

[[actions]]
name = "GetOrder"
resource_types = ["order"]
[[actions]]
name = "ListOrders"
resource_types = ["account"]
[[actions]]
name = "UpdateOrder"
resource_types = ["order"]
[[actions]]
name = "GetFile"
resource_types = ["file"]
[[actions]]
name = "Anything"
resource_types = ["order", "any"]

[[routes]]
method = "GET"
path = "/orders/{id}"
action = "GetOrder"
resource_type = "order"
resource = "arn:aws:orders:{region}:{account}:order/{id}"

[[routes]]
method = "*"
path = "/orders/{id}"
action = "UpdateOrder"
resource_type = "order"
resource = "arn:aws:orders:{region}:{account}:order/{id}"

[[routes]]
method = "GET"
path = "/orders/latest"
action = "ListOrders"
resource_type = "account"
resource = "*"

[[routes]]
method = "GET"
path = "/orders"
action = "ListOrders"
resource_type = "account"
resource = "arn:aws:orders:{region}:{account}:orders"

[[routes]]
method = "GET"
path = "/customers/{customer}/orders/{id}"
action = "GetOrder"
resource_type = "order"
resource = "arn:aws:orders:{region}:{account}:customer/{customer}/order/{id}"

[[routes]]
method = "GET"
path = "/files/{path+}"
action = "GetFile"
resource_type = "file"
resource = "arn:aws:orders:{region}:{account}:file/{path}"

[[routes]]
method = "GET"
path = "/files/special/{name}"
action = "GetFile"
resource_type = "file"
resource = "arn:aws:orders:{region}:{account}:special/{name}"

[[routes]]
method = "*"
path = "/"
action = "Anything"
resource_type = "any"
resource = "*"

[[routes]]
method = "GET"
path = "/tenants/{tenant}"
action = "Anything"
resource_type = "any"
resource = "arn:aws:orders:{tenant}:{account}:tenant"
"#;

fn table() -> RouteTable {
    let config: RouteTableConfig = toml::from_str(ORDERS).unwrap();
    RouteTable::compile(&config).unwrap()
}

fn route(t: &RouteTable, method: &str, path: &str) -> Result<TableRoute, RouteError> {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    t.route(&method, path, "us-east-1", "111122223333")
}

fn ok(t: &RouteTable, method: &str, path: &str) -> TableRoute {
    route(t, method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"))
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn matches_and_substitutes() {
    let t = table();
    assert_eq!(t.service(), "orders");
    assert_eq!(t.len(), 9);
    let r = ok(&t, "GET", "/orders/42");
    assert_eq!(
        r,
        TableRoute {
            action: "orders:GetOrder".into(),
            resource: "arn:aws:orders:us-east-1:111122223333:order/42".into(),
            resource_type: "order".into(),
            params: params(&[("id", "42")]),
        }
    );
    let r = ok(&t, "GET", "/customers/c%201/orders/7");
    assert_eq!(
        r.resource,
        "arn:aws:orders:us-east-1:111122223333:customer/c 1/order/7"
    );
    assert_eq!(r.params, params(&[("customer", "c 1"), ("id", "7")]));
    let r = ok(&t, "GET", "/orders");
    assert_eq!(r.action, "orders:ListOrders");
    assert_eq!(r.resource, "arn:aws:orders:us-east-1:111122223333:orders");
    let r = ok(&t, "DELETE", "/");
    assert_eq!(
        (r.action.as_str(), r.resource.as_str()),
        ("orders:Anything", "*")
    );
}

#[test]
fn precedence() {
    let t = table();
    // A literal beats a parameter.
    assert_eq!(ok(&t, "GET", "/orders/latest").action, "orders:ListOrders");
    // An exact method beats `*`; `*` takes the other methods.
    assert_eq!(ok(&t, "GET", "/orders/1").action, "orders:GetOrder");
    assert_eq!(ok(&t, "PUT", "/orders/1").action, "orders:UpdateOrder");
    assert_eq!(ok(&t, "DELETE", "/orders/1").action, "orders:UpdateOrder");
    // A literal path without a route for the method falls back to the next most specific one.
    let r = ok(&t, "POST", "/orders/latest");
    assert_eq!(r.action, "orders:UpdateOrder");
    assert_eq!(r.params, params(&[("id", "latest")]));
    // A literal beats a greedy parameter; the greedy parameter takes the rest.
    let r = ok(&t, "GET", "/files/special/x");
    assert_eq!(
        r.resource,
        "arn:aws:orders:us-east-1:111122223333:special/x"
    );
    let r = ok(&t, "GET", "/files/special/x/y");
    assert_eq!(
        r.resource,
        "arn:aws:orders:us-east-1:111122223333:file/special/x/y"
    );
}

#[test]
fn greedy_parameters() {
    let t = table();
    let r = ok(&t, "GET", "/files/a/b/c.txt");
    assert_eq!(r.params, params(&[("path", "a/b/c.txt")]));
    assert_eq!(
        r.resource,
        "arn:aws:orders:us-east-1:111122223333:file/a/b/c.txt"
    );
    // An encoded slash is allowed in a greedy parameter.
    let r = ok(&t, "GET", "/files/a%2Fb");
    assert_eq!(r.params, params(&[("path", "a/b")]));
    // One segment at least.
    assert!(matches!(
        route(&t, "GET", "/files"),
        Err(RouteError::NoRoute { .. })
    ));
    assert!(matches!(
        route(&t, "GET", "/files/"),
        Err(RouteError::NoRoute { .. })
    ));
}

#[test]
fn no_route_and_no_normalisation() {
    let t = table();
    for (method, path) in [
        ("GET", "/nothing"),
        ("GET", "/orders/1/"),
        ("GET", "/orders//1"),
        ("GET", "//orders/1"),
        ("GET", "/orders/1/extra"),
        ("GET", "/ORDERS/1"),
        ("POST", "/orders"),
        ("GET", "/customers/c/orders"),
        // An encoded slash never fills a one-segment parameter.
        ("GET", "/orders/1%2F2"),
    ] {
        match route(&t, method, path) {
            Err(RouteError::NoRoute { .. }) => {}
            other => panic!("{method} {path}: {other:?}"),
        }
    }
    let e = route(&t, "GET", "/nothing").unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn dot_segments_and_bad_encoding_are_refused() {
    let t = table();
    for path in [
        "/orders/..",
        "/orders/.",
        "/orders/%2e%2e",
        "/orders/%2E",
        "/files/a/../b",
        "/files/a/%2e%2e/b",
        "/orders/../orders/1",
        // Dot segments an upstream would find after decoding an encoded '/', reading '\' as
        // '/', or dropping a ';parameter' (the greedy parameter used to let these through as
        // 'public/../secret/x' while a normalising upstream served 'secret/x').
        "/files/public/..%2Fsecret/x",
        "/files/public/..%2fsecret",
        "/files/public%2F..%2F..%2Fsecret",
        "/files/public/..%5Csecret/x",
        "/files/public/..\\secret/x",
        "/files/public/..;/secret/x",
        "/files/public/..;x=1/secret/x",
        "/files/public/.;/x",
        "/orders/..;",
        // Control bytes: NUL truncates paths in some stacks, CR LF splits heads.
        "/orders/1%00",
        "/files/a%00/../b",
        "/orders/1%0D%0AX:%20y",
        "/orders/%7F",
    ] {
        match route(&t, "GET", path) {
            Err(RouteError::InvalidPath(_)) => {}
            other => panic!("{path}: {other:?}"),
        }
    }
    for path in ["/orders/%zz", "/orders/%FF", "orders/1"] {
        match route(&t, "GET", path) {
            Err(RouteError::InvalidUri(_)) => {}
            other => panic!("{path}: {other:?}"),
        }
    }
    // Names that merely contain dots, semicolons or backslashes are fine.
    assert_eq!(
        ok(&t, "GET", "/orders/1;v=2").params,
        params(&[("id", "1;v=2")])
    );
    assert_eq!(
        ok(&t, "GET", "/files/a/..b/c..").params,
        params(&[("path", "a/..b/c..")])
    );
    assert_eq!(
        ok(&t, "GET", "/files/a%5Cb").params,
        params(&[("path", "a\\b")])
    );
    // Parameters are decoded once.
    assert_eq!(
        ok(&t, "GET", "/orders/%252F").params,
        params(&[("id", "%2F")])
    );
    assert_eq!(
        ok(&t, "GET", "/orders/a+b").params,
        params(&[("id", "a+b")])
    );
    // A ':' may not shift the ARN's fields.
    assert_eq!(
        ok(&t, "GET", "/tenants/eu-west-1").resource,
        "arn:aws:orders:eu-west-1:111122223333:tenant"
    );
    assert!(matches!(
        route(&t, "GET", "/tenants/a:b"),
        Err(RouteError::InvalidPath(_))
    ));
    // ... but is fine in the resource part.
    assert_eq!(
        ok(&t, "GET", "/orders/a:b").resource,
        "arn:aws:orders:us-east-1:111122223333:order/a:b"
    );
}

fn compile(extra_actions: &str, routes: &str) -> Result<RouteTable, TableError> {
    let text = format!(
        "service = \"orders\"\n[[actions]]\nname = \"GetOrder\"\nresource_types = [\"order\"]\n{extra_actions}\n{routes}"
    );
    let config: RouteTableConfig = toml::from_str(&text).unwrap();
    RouteTable::compile(&config)
}

fn one_route(method: &str, path: &str, action: &str, rtype: &str, resource: &str) -> String {
    format!(
        "[[routes]]\nmethod = \"{method}\"\npath = \"{path}\"\naction = \"{action}\"\nresource_type = \"{rtype}\"\nresource = \"{resource}\"\n"
    )
}

#[test]
fn compile_time_errors() {
    const ARN: &str = "arn:aws:orders:{region}:{account}:order/{id}";
    let good = one_route("GET", "/orders/{id}", "GetOrder", "order", ARN);
    assert!(compile("", &good).is_ok());

    let e = compile("", &one_route("GET", "/orders/{id}", "Nope", "order", ARN)).unwrap_err();
    assert!(matches!(e, TableError::UnknownAction { .. }), "{e}");
    assert!(
        e.to_string().contains("routes[0] (GET /orders/{id})"),
        "{e}"
    );

    let e = compile(
        "",
        &one_route("GET", "/orders/{id}", "GetOrder", "invoice", ARN),
    )
    .unwrap_err();
    assert!(matches!(e, TableError::ResourceTypeMismatch { .. }), "{e}");

    let e = compile(
        "",
        &one_route(
            "GET",
            "/orders/{id}",
            "GetOrder",
            "order",
            "arn:aws:orders:{region}:{account}:order/{oid}",
        ),
    )
    .unwrap_err();
    assert!(matches!(e, TableError::InvalidResource { .. }), "{e}");
    assert!(e.to_string().contains("{oid}"), "{e}");

    for resource in [
        "arn:aws:orders:{region",
        "arn:aws:orders:}:x:y",
        "order/{id}",
        "arn:aws:orders",
    ] {
        let e = compile(
            "",
            &one_route("GET", "/orders/{id}", "GetOrder", "order", resource),
        )
        .unwrap_err();
        assert!(
            matches!(e, TableError::InvalidResource { .. }),
            "{resource}: {e}"
        );
    }

    for path in [
        "orders/{id}",
        "/orders//{id}",
        "/orders/{id}/",
        "/orders/{id",
        "/orders/x{id}",
        "/orders/{}",
        "/orders/{id+}/x",
        "/orders/{id}/{id}",
        "/orders/../{id}",
        "/orders/{region}",
    ] {
        let e = compile("", &one_route("GET", path, "GetOrder", "order", "*")).unwrap_err();
        assert!(matches!(e, TableError::InvalidPath { .. }), "{path}: {e}");
    }

    for method in ["get", "", "GE T", "G*"] {
        let e = compile(
            "",
            &one_route(method, "/orders/{id}", "GetOrder", "order", ARN),
        )
        .unwrap_err();
        assert!(
            matches!(e, TableError::InvalidMethod { .. }),
            "{method}: {e}"
        );
    }

    // Two identical routes (parameter names do not matter), and the same path for `*` twice.
    let twice = format!(
        "{good}{}",
        one_route(
            "GET",
            "/orders/{order}",
            "GetOrder",
            "order",
            "arn:aws:orders:{region}:{account}:order/{order}"
        )
    );
    let e = compile("", &twice).unwrap_err();
    assert!(matches!(e, TableError::DuplicateRoute { .. }), "{e}");
    assert!(
        e.to_string().contains("routes[1]") && e.to_string().contains("routes[0]"),
        "{e}"
    );
    let star_twice = format!(
        "{}{}",
        one_route("*", "/orders", "GetOrder", "order", "*"),
        one_route("*", "/orders", "GetOrder", "order", "*")
    );
    assert!(matches!(
        compile("", &star_twice),
        Err(TableError::DuplicateRoute { .. })
    ));
    // The same path with different methods is fine.
    let two_methods = format!(
        "{good}{}",
        one_route("PUT", "/orders/{id}", "GetOrder", "order", ARN)
    );
    assert!(compile("", &two_methods).is_ok());

    let dup_action = "[[actions]]\nname = \"GetOrder\"\nresource_types = [\"x\"]\n";
    assert!(matches!(
        compile(dup_action, ""),
        Err(TableError::InvalidAction(..))
    ));

    let bad_service: RouteTableConfig = toml::from_str("service = \"Orders Svc\"").unwrap();
    assert!(matches!(
        RouteTable::compile(&bad_service),
        Err(TableError::InvalidService(_))
    ));
}

#[test]
fn config_refuses_unknown_fields() {
    assert!(toml::from_str::<RouteTableConfig>("service = \"orders\"\nextra = 1").is_err());
    let text = "service = \"orders\"\n[[routes]]\nmethod = \"GET\"\npath = \"/\"\naction = \"A\"\nresource_type = \"t\"\nresource = \"*\"\nweight = 3\n";
    assert!(toml::from_str::<RouteTableConfig>(text).is_err());
    let empty: RouteTableConfig = toml::from_str("service = \"orders\"").unwrap();
    let t = RouteTable::compile(&empty).unwrap();
    assert!(t.is_empty());
    assert!(matches!(
        t.route(&Method::GET, "/", "r", "a"),
        Err(RouteError::NoRoute { .. })
    ));
}
