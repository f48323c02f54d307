//! Route tables for HTTP services other than S3.
//!
//! A service's table is declared in the gateway's configuration (TOML):
//!
//! ```toml
//! [upstreams.orders]
//! service = "orders"            # the signing service name and the action prefix
//! [[upstreams.orders.actions]]
//! name = "GetOrder"
//! resource_types = ["order"]
//! [[upstreams.orders.routes]]
//! method = "GET"                # or "*"
//! path = "/orders/{id}"         # literal segments, {param}, {param+} greedy (last only)
//! action = "GetOrder"
//! resource_type = "order"
//! resource = "arn:aws:orders:{region}:{account}:order/{id}"
//! ```
//!
//! [`RouteTable::compile`] checks the table once; [`RouteTable::route`] matches a request segment
//! by segment (no regular expressions), most specific first.

use std::collections::{HashMap, HashSet};
use std::fmt;

use http::Method;
use serde::Deserialize;

use super::{percent_decode, RouteError};

/// The route-table part of an upstream's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTableConfig {
    /// The service name: the SigV4 signing name and the prefix of the actions (`orders`).
    pub service: String,
    /// The service's actions and the resource types each applies to.
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
    /// The routes, in any order: matching does not depend on it.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// One action of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The action's name without the service prefix (`GetOrder`).
    pub name: String,
    /// The resource types the action applies to (`order`).
    pub resource_types: Vec<String>,
}

/// One route: a method and path template, and what a matching request is authorised as.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// An HTTP method in upper case (`GET`), or `*` for any.
    pub method: String,
    /// The path template: `/` then `/`-separated segments, each a literal, `{param}` (one
    /// segment) or, last only, `{param+}` (one or more segments).
    pub path: String,
    /// The action, declared in `actions`.
    pub action: String,
    /// The resource type, one the action applies to.
    pub resource_type: String,
    /// The resource ARN template: `{region}`, `{account}` and the route's path parameters are
    /// substituted; `*` for actions without a resource.
    pub resource: String,
}

/// Why a route table does not compile. [`TableError::key`] says where in the table (`service`,
/// `actions[1].name`, `routes[2].path`); the message says what is wrong and names the route
/// (`routes[2] (GET /orders/{id})`) or the action at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// The service name is empty or not lower-case letters, digits and hyphens.
    InvalidService(String),
    /// An action name is invalid or declared twice: the name, what is wrong, and the action's
    /// index in `actions`.
    InvalidAction(String, String, usize),
    /// A route names an action the table does not declare.
    UnknownAction {
        /// The route's index in `routes`.
        index: usize,
        /// The route's method and path.
        route: String,
        /// The action it names.
        action: String,
    },
    /// A route's action does not apply to the route's resource type.
    ResourceTypeMismatch {
        /// The route's index in `routes`.
        index: usize,
        /// The route's method and path.
        route: String,
        /// The action it names.
        action: String,
        /// The resource type it names.
        resource_type: String,
    },
    /// The method is neither `*` nor an upper-case HTTP method.
    InvalidMethod {
        /// The route's index in `routes`.
        index: usize,
        /// The route's method and path.
        route: String,
        /// The method given.
        method: String,
    },
    /// The path template is malformed.
    InvalidPath {
        /// The route's index in `routes`.
        index: usize,
        /// The route's method and path.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// The resource template is malformed or names a parameter the path does not have.
    InvalidResource {
        /// The route's index in `routes`.
        index: usize,
        /// The route's method and path.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// Two routes have the same method and the same path shape.
    DuplicateRoute {
        /// The later route's index in `routes`.
        index: usize,
        /// The later route's method and path.
        route: String,
        /// The earlier one's label, `routes[i] (METHOD /path)`.
        other: String,
    },
}

impl TableError {
    /// Where the fault is, as a key of the table: `service`, `actions[1].name`, `routes[2].path`.
    pub fn key(&self) -> String {
        match self {
            TableError::InvalidService(_) => "service".to_owned(),
            TableError::InvalidAction(_, _, index) => format!("actions[{index}].name"),
            TableError::UnknownAction { index, .. } => format!("routes[{index}].action"),
            TableError::ResourceTypeMismatch { index, .. } => {
                format!("routes[{index}].resource_type")
            }
            TableError::InvalidMethod { index, .. } => format!("routes[{index}].method"),
            TableError::InvalidPath { index, .. } | TableError::DuplicateRoute { index, .. } => {
                format!("routes[{index}].path")
            }
            TableError::InvalidResource { index, .. } => format!("routes[{index}].resource"),
        }
    }

    /// The route at fault, as its method and path (`GET /orders/{id}`), if a route is.
    pub fn route(&self) -> Option<&str> {
        match self {
            TableError::InvalidService(_) | TableError::InvalidAction(..) => None,
            TableError::UnknownAction { route, .. }
            | TableError::ResourceTypeMismatch { route, .. }
            | TableError::InvalidMethod { route, .. }
            | TableError::InvalidPath { route, .. }
            | TableError::InvalidResource { route, .. }
            | TableError::DuplicateRoute { route, .. } => Some(route),
        }
    }

    /// What is wrong, without where.
    pub fn problem(&self) -> String {
        match self {
            TableError::InvalidService(service) => {
                format!("invalid service name '{service}' (lower-case letters, digits and '-')")
            }
            TableError::InvalidAction(name, message, _) => format!("action '{name}': {message}"),
            TableError::UnknownAction { action, .. } => {
                format!("the action '{action}' is not declared in `actions`")
            }
            TableError::ResourceTypeMismatch {
                action,
                resource_type,
                ..
            } => format!("the action '{action}' does not apply to resource type '{resource_type}'"),
            TableError::InvalidMethod { method, .. } => format!("invalid method '{method}'"),
            TableError::InvalidPath { message, .. } => format!("invalid path template: {message}"),
            TableError::InvalidResource { message, .. } => {
                format!("invalid resource template: {message}")
            }
            TableError::DuplicateRoute { other, .. } => format!("duplicates {other}"),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::UnknownAction { index, route, .. }
            | TableError::ResourceTypeMismatch { index, route, .. }
            | TableError::InvalidMethod { index, route, .. }
            | TableError::InvalidPath { index, route, .. }
            | TableError::InvalidResource { index, route, .. }
            | TableError::DuplicateRoute { index, route, .. } => {
                write!(f, "{}: {}", label(*index, route), self.problem())
            }
            TableError::InvalidService(_) | TableError::InvalidAction(..) => {
                f.write_str(&self.problem())
            }
        }
    }
}

impl std::error::Error for TableError {}

/// How a route is named in messages: `routes[2] (GET /orders/{id})`.
fn label(index: usize, route: &str) -> String {
    format!("routes[{index}] ({route})")
}

/// What a request that matched a route is authorised as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRoute {
    /// The action with its service prefix: `orders:GetOrder`.
    pub action: String,
    /// The resource ARN, `{region}`, `{account}` and parameters substituted (or `*`).
    pub resource: String,
    /// The route's resource type.
    pub resource_type: String,
    /// The path parameters, percent-decoded once, in template order.
    pub params: Vec<(String, String)>,
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// One piece of a resource template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Region,
    Account,
    /// A path parameter (index into the route's params); `true` when it falls in the ARN's
    /// partition/service/region/account fields, where a `:` in the value is refused.
    Param(usize, bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CompiledRoute {
    method: Option<Method>,
    segments: Vec<Segment>,
    action: String,
    resource_type: String,
    resource: Vec<Piece>,
    label: String,
}

/// A node of the matching trie.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Node {
    literals: HashMap<String, Node>,
    param: Option<Box<Node>>,
    /// Routes that end here.
    routes: Vec<usize>,
    /// Routes whose greedy parameter starts here.
    greedy: Vec<usize>,
}

/// A compiled route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    service: String,
    /// The declared actions' names, without the service prefix, in configuration order.
    actions: Vec<String>,
    routes: Vec<CompiledRoute>,
    root: Node,
}

fn valid_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| "it must start with '/'".to_owned())?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    let mut names = HashSet::new();
    for (i, segment) in raw.iter().enumerate() {
        if segment.is_empty() {
            return Err("empty segment".to_owned());
        }
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if !valid_param_name(name) {
                return Err(format!("invalid parameter name '{name}'"));
            }
            if name == "region" || name == "account" {
                return Err(format!("'{name}' is reserved"));
            }
            if !names.insert(name) {
                return Err(format!("parameter '{name}' appears twice"));
            }
            if greedy && i + 1 != raw.len() {
                return Err(format!("the greedy parameter '{name}+' must be last"));
            }
            segments.push(if greedy {
                Segment::Greedy(name.to_owned())
            } else {
                Segment::Param(name.to_owned())
            });
        } else if segment.contains(['{', '}']) {
            return Err(format!(
                "'{segment}': a segment is either a literal or one whole {{param}}"
            ));
        } else if *segment == "." || *segment == ".." {
            return Err("'.' and '..' segments are not allowed".to_owned());
        } else {
            segments.push(Segment::Literal((*segment).to_owned()));
        }
    }
    Ok(segments)
}

fn parse_resource(template: &str, segments: &[Segment]) -> Result<Vec<Piece>, String> {
    if template == "*" {
        return Ok(vec![Piece::Text("*".to_owned())]);
    }
    if !template.starts_with("arn:") {
        return Err("it must be '*' or start with 'arn:'".to_owned());
    }
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut colons = 0usize;
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err("unclosed '{'".to_owned());
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let piece = match name.as_str() {
                    "region" => Piece::Region,
                    "account" => Piece::Account,
                    other => {
                        let index = segments
                            .iter()
                            .filter(|s| !matches!(s, Segment::Literal(_)))
                            .position(|s| match s {
                                Segment::Param(n) | Segment::Greedy(n) => n == other,
                                Segment::Literal(_) => false,
                            })
                            .ok_or_else(|| format!("unknown parameter '{{{other}}}'"))?;
                        Piece::Param(index, colons < 5)
                    }
                };
                pieces.push(piece);
            }
            '}' => return Err("unmatched '}'".to_owned()),
            other => {
                if other == ':' {
                    colons += 1;
                }
                text.push(other);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    if colons < 5 {
        return Err("an ARN has six ':'-separated fields".to_owned());
    }
    Ok(pieces)
}

fn parse_method(method: &str) -> Option<Option<Method>> {
    if method == "*" {
        return Some(None);
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Method::from_bytes(method.as_bytes()).ok().map(Some)
}

/// The shape of a path template for duplicate detection: parameter names do not matter.
fn shape(segments: &[Segment]) -> Vec<String> {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => format!("L{l}"),
            Segment::Param(_) => "P".to_owned(),
            Segment::Greedy(_) => "G".to_owned(),
        })
        .collect()
}

/// Why a decoded path segment could be read as another path by the upstream, if it could: a
/// `.` or `..` piece once split at an encoded `/` or at `\` (which some servers take for `/`),
/// with any `;parameter` removed (`..;x` is `..` to a servlet container); or a control byte
/// (NUL truncates paths in some stacks; CR and LF split heads).
fn ambiguous_segment(decoded: &str) -> Option<String> {
    if let Some(b) = decoded.bytes().find(|b| b.is_ascii_control()) {
        return Some(format!("has the control byte 0x{b:02X}"));
    }
    for piece in decoded.split(['/', '\\']) {
        let bare = piece.split(';').next().unwrap_or(piece);
        if bare == "." || bare == ".." {
            return Some(format!(
                "has a '{bare}' segment (encoded, or hidden behind '\\' or ';')"
            ));
        }
    }
    None
}

impl RouteTable {
    /// Compiles a table, refusing: an invalid service name; an action declared twice; a route
    /// whose action is not declared or does not apply to its resource type; a malformed method,
    /// path or resource template; a resource template naming a parameter the path lacks; two
    /// routes with the same method and the same path shape.
    pub fn compile(config: &RouteTableConfig) -> Result<RouteTable, TableError> {
        let service = &config.service;
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(TableError::InvalidService(service.clone()));
        }
        let mut actions: HashMap<&str, &[String]> = HashMap::new();
        for (i, action) in config.actions.iter().enumerate() {
            if action.name.is_empty() || !action.name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(TableError::InvalidAction(
                    action.name.clone(),
                    "an action name is letters and digits".to_owned(),
                    i,
                ));
            }
            if actions
                .insert(action.name.as_str(), &action.resource_types)
                .is_some()
            {
                return Err(TableError::InvalidAction(
                    action.name.clone(),
                    "declared twice".to_owned(),
                    i,
                ));
            }
        }
        let mut routes: Vec<CompiledRoute> = Vec::with_capacity(config.routes.len());
        let mut seen: HashMap<(Option<Method>, Vec<String>), String> = HashMap::new();
        let mut root = Node::default();
        for (i, route) in config.routes.iter().enumerate() {
            let name = format!("{} {}", route.method, route.path);
            let label = label(i, &name);
            let types =
                actions
                    .get(route.action.as_str())
                    .ok_or_else(|| TableError::UnknownAction {
                        index: i,
                        route: name.clone(),
                        action: route.action.clone(),
                    })?;
            if !types.contains(&route.resource_type) {
                return Err(TableError::ResourceTypeMismatch {
                    index: i,
                    route: name,
                    action: route.action.clone(),
                    resource_type: route.resource_type.clone(),
                });
            }
            let method = parse_method(&route.method).ok_or_else(|| TableError::InvalidMethod {
                index: i,
                route: name.clone(),
                method: route.method.clone(),
            })?;
            let segments = parse_path(&route.path).map_err(|message| TableError::InvalidPath {
                index: i,
                route: name.clone(),
                message,
            })?;
            let resource = parse_resource(&route.resource, &segments).map_err(|message| {
                TableError::InvalidResource {
                    index: i,
                    route: name.clone(),
                    message,
                }
            })?;
            let key = (method.clone(), shape(&segments));
            if let Some(other) = seen.get(&key) {
                return Err(TableError::DuplicateRoute {
                    index: i,
                    route: name,
                    other: other.clone(),
                });
            }
            seen.insert(key, label.clone());

            let index = routes.len();
            let mut node = &mut root;
            for segment in &segments {
                match segment {
                    Segment::Literal(l) => node = node.literals.entry(l.clone()).or_default(),
                    Segment::Param(_) => node = node.param.get_or_insert_with(Box::default),
                    Segment::Greedy(_) => {}
                }
            }
            if matches!(segments.last(), Some(Segment::Greedy(_))) {
                node.greedy.push(index);
            } else {
                node.routes.push(index);
            }
            routes.push(CompiledRoute {
                method,
                segments,
                action: format!("{service}:{}", route.action),
                resource_type: route.resource_type.clone(),
                resource,
                label,
            });
        }
        Ok(RouteTable {
            service: service.clone(),
            actions: config.actions.iter().map(|a| a.name.clone()).collect(),
            routes,
            root,
        })
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The declared actions' names, without the service prefix (`GetOrder`).
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(String::as_str)
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table has no routes (and so refuses every request).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Picks, among routes ending at one node, the one for `method`: an exact method first, then
    /// `*`.
    fn pick(&self, candidates: &[usize], method: &Method) -> Option<usize> {
        candidates
            .iter()
            .copied()
            .find(|&i| self.routes[i].method.as_ref() == Some(method))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| self.routes[i].method.is_none())
            })
    }

    fn find(&self, node: &Node, segments: &[String], method: &Method) -> Option<usize> {
        let Some((first, rest)) = segments.split_first() else {
            return self.pick(&node.routes, method);
        };
        if let Some(child) = node.literals.get(first) {
            if let Some(found) = self.find(child, rest, method) {
                return Some(found);
            }
        }
        if let Some(child) = &node.param {
            if !first.contains('/') {
                if let Some(found) = self.find(child, rest, method) {
                    return Some(found);
                }
            }
        }
        self.pick(&node.greedy, method)
    }

    /// Matches a request: `path` is the raw path as sent (percent-encoded, without the query).
    ///
    /// Segments are compared after percent-decoding once; at every segment a literal beats a
    /// parameter, which beats a greedy parameter; among routes with the same path, an exact
    /// method beats `*`. Nothing is normalised: an empty segment (`//`, a trailing `/`) matches
    /// nothing, and a `{param}` does not match a segment holding an encoded `/` (a greedy
    /// `{param+}` may). Anything an upstream could resolve to another path is refused
    /// ([`RouteError::InvalidPath`]): `.` and `..` segments, encoded or not, also behind an
    /// encoded `/`, a `\` or a `;parameter` (`..%2F`, `..\`, `..;x`), and control bytes.
    pub fn route(
        &self,
        method: &Method,
        path: &str,
        region: &str,
        account: &str,
    ) -> Result<TableRoute, RouteError> {
        let no_route = || RouteError::NoRoute {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| RouteError::InvalidUri(format!("the path '{path}' is not absolute")))?;
        let mut segments: Vec<String> = Vec::new();
        if !rest.is_empty() {
            for raw in rest.split('/') {
                if raw == "." || raw == ".." {
                    return Err(RouteError::InvalidPath(format!(
                        "'{path}' has a '{raw}' segment"
                    )));
                }
                let decoded = percent_decode(raw)?;
                if let Some(why) = ambiguous_segment(&decoded) {
                    return Err(RouteError::InvalidPath(format!("'{path}' {why}")));
                }
                if decoded.is_empty() {
                    return Err(no_route());
                }
                segments.push(decoded);
            }
        }
        let index = self
            .find(&self.root, &segments, method)
            .ok_or_else(no_route)?;
        let route = &self.routes[index];
        let mut params: Vec<(String, String)> = Vec::new();
        for (i, segment) in route.segments.iter().enumerate() {
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(name) => {
                    params.push((name.clone(), segments.get(i).cloned().unwrap_or_default()))
                }
                Segment::Greedy(name) => {
                    params.push((name.clone(), segments.get(i..).unwrap_or(&[]).join("/")))
                }
            }
        }
        let mut resource = String::new();
        for piece in &route.resource {
            match piece {
                Piece::Text(t) => resource.push_str(t),
                Piece::Region => resource.push_str(region),
                Piece::Account => resource.push_str(account),
                Piece::Param(i, in_head) => {
                    let value = params.get(*i).map(|(_, v)| v.as_str()).unwrap_or_default();
                    if *in_head && value.contains(':') {
                        return Err(RouteError::InvalidPath(format!(
                            "a ':' in '{value}' would change the ARN's fields"
                        )));
                    }
                    resource.push_str(value);
                }
            }
        }
        Ok(TableRoute {
            action: route.action.clone(),
            resource,
            resource_type: route.resource_type.clone(),
            params,
        })
    }

    /// Matches a request from its head: the raw path of its URI (see [`RouteTable::route`]).
    pub fn route_request(
        &self,
        parts: &http::request::Parts,
        region: &str,
        account: &str,
    ) -> Result<TableRoute, RouteError> {
        self.route(&parts.method, parts.uri.path(), region, account)
    }

    /// The label of every route, `routes[i] (METHOD /path)`, in configuration order.
    pub fn route_labels(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.label.as_str())
    }
}

impl fmt::Display for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route table '{}' ({} routes)", self.service, self.len())
    }
}
