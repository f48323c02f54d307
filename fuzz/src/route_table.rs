// The body of the `route_table` fuzz target, shared by `fuzz_targets/route_table.rs` and the main
// crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input: `method \n path`. A fixed table (literals, parameters, a greedy parameter, `*` methods,
// parameters in the ARN's head) routes it.

use http::Method;
use iamgate::route::percent_decode;
use iamgate::route::table::{ActionConfig, RouteConfig, RouteTable, RouteTableConfig};

/// The table every input is matched against.
pub fn fuzz_table() -> RouteTable {
    let action = |name: &str, types: &[&str]| ActionConfig {
        name: name.to_owned(),
        resource_types: types.iter().map(|t| (*t).to_owned()).collect(),
    };
    let route = |method: &str, path: &str, action: &str, rt: &str, resource: &str| RouteConfig {
        method: method.to_owned(),
        path: path.to_owned(),
        action: action.to_owned(),
        resource_type: rt.to_owned(),
        resource: resource.to_owned(),
    };
    let config = RouteTableConfig {
        service: "orders".to_owned(),
        actions: vec![
            action("GetOrder", &["order"]),
            action("ListOrders", &["store"]),
            action("Admin", &["store"]),
            action("GetFile", &["file"]),
            action("Anything", &["order", "store", "file"]),
        ],
        routes: vec![
            route("GET", "/orders/{id}", "GetOrder", "order", "arn:aws:orders:{region}:{account}:order/{id}"),
            route("GET", "/orders", "ListOrders", "store", "arn:aws:orders:{region}:{account}:store/main"),
            route("*", "/admin/{what}", "Admin", "store", "arn:aws:orders:{region}:{account}:store/{what}"),
            route("GET", "/files/{path+}", "GetFile", "file", "arn:aws:orders:{region}:{account}:file/{path}"),
            route("GET", "/tenants/{tenant}/orders/{id}", "GetOrder", "order", "arn:aws:orders:{tenant}:{account}:order/{id}"),
            route("*", "/{any+}", "Anything", "store", "*"),
        ],
    };
    RouteTable::compile(&config).expect("the fuzz table compiles")
}

/// Routes one request: when it matches, the parameters come from the path's own segments
/// (decoded once), no dot segment was accepted (not even one hidden behind an encoded `/`, a
/// `\` or a `;parameter`), no control byte, and the ARN's head has no smuggled `:`.
pub fn check_route_table(data: &[u8]) {
    let mut lines = data.splitn(2, |&b| b == b'\n');
    let Some(Ok(method)) = lines.next().map(Method::from_bytes) else {
        return;
    };
    let Ok(path) = std::str::from_utf8(lines.next().unwrap_or(b"/")) else {
        return;
    };
    let table = fuzz_table();
    let Ok(route) = table.route(&method, path, "us-east-1", "111122223333") else {
        return;
    };
    let segments: Vec<String> = path[1..]
        .split('/')
        .map(|s| percent_decode(s).expect("a routed path decodes"))
        .collect();
    for s in &segments {
        assert!(!s.is_empty(), "routed {path:?} with an empty segment");
        assert!(!s.bytes().any(|b| b.is_ascii_control()), "routed {path:?} with a control byte");
        // No piece an upstream could resolve: split at '/' (an encoded one) and '\', with
        // ';parameters' dropped, nothing is '.' or '..'.
        for piece in s.split(['/', '\\']) {
            let bare = piece.split(';').next().unwrap_or(piece);
            assert!(bare != "." && bare != "..", "routed {path:?} with a hidden dot segment");
        }
    }
    let decoded = segments.join("/");
    for (name, value) in &route.params {
        assert!(!value.is_empty(), "empty parameter {name}");
        assert!(decoded.contains(value.as_str()), "{name}={value:?} is not from {path:?}");
    }
    if route.resource != "*" {
        assert_eq!(route.resource.split(':').take(5).count(), 5);
        assert!(route.resource.starts_with("arn:aws:orders:"));
        let head: Vec<&str> = route.resource.splitn(6, ':').collect();
        assert_eq!(head.len(), 6, "{}", route.resource);
        assert_eq!(head[4], "111122223333", "{}", route.resource);
    }
}
