//! A gateway configuration built in code: the S3 model (the built-in store or a URL) and the
//! `orders` route table, with what each test needs on top. The policy store is `policies/` of
//! the folder the configuration is parsed in (see [`Scratch::gateway`]).

use std::fmt::{Display, Write};
use std::net::SocketAddr;

use iamgate::config::Config;
use iamgate::proxy::{start, Running};

use super::Scratch;

/// Where [`GatewayConfig::decisions_file`] writes the decision log, in the scratch folder.
pub const DECISIONS: &str = "decisions.jsonl";

/// A route of the `orders` table (service `orders`, resource ARNs
/// `arn:aws:orders:<region>:<account>:order/<id>` and `…:file/<path>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /orders/{id}`: `orders:GetOrder` on the order.
    GetOrder,
    /// `POST /orders/{id}`: `orders:UpdateOrder` on the order.
    UpdateOrder,
    /// `GET /files/{path+}`: `orders:GetFile` on the file.
    GetFile,
}

impl Route {
    /// The action's name, its resource type, the method, the path pattern and the resource.
    fn parts(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Route::GetOrder => (
                "GetOrder",
                "order",
                "GET",
                "/orders/{id}",
                "arn:aws:orders:{region}:{account}:order/{id}",
            ),
            Route::UpdateOrder => (
                "UpdateOrder",
                "order",
                "POST",
                "/orders/{id}",
                "arn:aws:orders:{region}:{account}:order/{id}",
            ),
            Route::GetFile => (
                "GetFile",
                "file",
                "GET",
                "/files/{path+}",
                "arn:aws:orders:{region}:{account}:file/{path}",
            ),
        }
    }
}

/// A gateway's configuration: region us-east-1, the store at `policies`, HTTP on a free port of
/// 127.0.0.1; the rest as the builder's calls say.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    admin: bool,
    decisions: Option<String>,
    limits: String,
    s3: Option<String>,
    orders: Option<(String, Vec<Route>)>,
    extra: String,
}

impl GatewayConfig {
    /// No upstream yet, no admin listener, no `[log]` (decisions to stdout), default limits.
    pub fn new() -> GatewayConfig {
        GatewayConfig::default()
    }

    /// The demo: the S3 model on the built-in store (`data/`), owned by 111122223333.
    pub fn demo() -> GatewayConfig {
        GatewayConfig::new().s3("local = \"data\"")
    }

    /// The S3 model in front of an upstream at `addr`, owned by 111122223333.
    pub fn s3_at(addr: SocketAddr) -> GatewayConfig {
        GatewayConfig::new().s3(&format!("url = \"http://{addr}\""))
    }

    /// `[upstreams.s3]` (kind `s3`, owner 111122223333) with these TOML lines; again: more lines.
    pub fn s3(mut self, lines: &str) -> GatewayConfig {
        let s3 = self.s3.get_or_insert_with(String::new);
        s3.push_str(lines);
        s3.push('\n');
        self
    }

    /// An admin listener on a free port.
    pub fn admin(mut self) -> GatewayConfig {
        self.admin = true;
        self
    }

    /// `[log] decisions = sink`.
    pub fn decisions(mut self, sink: &str) -> GatewayConfig {
        self.decisions = Some(sink.to_owned());
        self
    }

    /// The decision log to [`DECISIONS`] in the scratch folder.
    pub fn decisions_file(self) -> GatewayConfig {
        self.decisions(DECISIONS)
    }

    /// Lines of the `[limits]` table (added to those given before).
    pub fn limits(mut self, lines: &str) -> GatewayConfig {
        self.limits.push_str(lines);
        self.limits.push('\n');
        self
    }

    /// The `orders` route table (host `orders.localhost`) in front of `url`, with `routes`.
    pub fn orders(mut self, url: impl Display, routes: &[Route]) -> GatewayConfig {
        self.orders = Some((url.to_string(), routes.to_vec()));
        self
    }

    /// The `orders` route table in front of an upstream at `addr`.
    pub fn orders_at(self, addr: SocketAddr, routes: &[Route]) -> GatewayConfig {
        self.orders(format!("http://{addr}"), routes)
    }

    /// More TOML tables, at the end.
    pub fn extra(mut self, toml: &str) -> GatewayConfig {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// The configuration file's text.
    pub fn text(&self) -> String {
        let mut t = String::from(
            "region = \"us-east-1\"\npolicies = \"policies\"\n[listen]\nhttp = \"127.0.0.1:0\"\n",
        );
        if self.admin {
            t.push_str("admin = \"127.0.0.1:0\"\n");
        }
        if let Some(sink) = &self.decisions {
            writeln!(t, "[log]\ndecisions = \"{sink}\"").unwrap();
        }
        if !self.limits.is_empty() {
            writeln!(t, "[limits]\n{}", self.limits).unwrap();
        }
        if let Some(lines) = &self.s3 {
            writeln!(
                t,
                "[upstreams.s3]\nkind = \"s3\"\nowner = \"111122223333\"\n{lines}"
            )
            .unwrap();
        }
        if let Some((url, routes)) = &self.orders {
            writeln!(
                t,
                "[upstreams.orders]\nkind = \"routes\"\nurl = \"{url}\"\n\
                 hosts = [\"orders.localhost\"]\nservice = \"orders\""
            )
            .unwrap();
            for route in routes {
                let (name, rtype, ..) = route.parts();
                writeln!(
                    t,
                    "[[upstreams.orders.actions]]\nname = \"{name}\"\nresource_types = [\"{rtype}\"]"
                )
                .unwrap();
            }
            for route in routes {
                let (action, rtype, method, path, resource) = route.parts();
                writeln!(
                    t,
                    "[[upstreams.orders.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
                     action = \"{action}\"\nresource_type = \"{rtype}\"\nresource = \"{resource}\""
                )
                .unwrap();
            }
        }
        t.push_str(&self.extra);
        t
    }

    /// The configuration, as read from `iamgate.toml` in `scratch`.
    pub fn parse(&self, scratch: &Scratch) -> Config {
        let text = self.text();
        Config::parse(&text, &scratch.join("iamgate.toml"), scratch.path())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// A gateway started on it.
    pub async fn start(&self, scratch: &Scratch) -> Running {
        start(self.parse(scratch)).await.unwrap()
    }
}
