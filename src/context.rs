//! Building the request context: the condition keys a request brings, present exactly when AWS
//! would have them.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use crate::policy::Context;

/// The client's address as policies see it (`aws:SourceIp`): the peer, unless the peer is a
/// trusted proxy, in which case `X-Forwarded-For` is read right to left, skipping trusted
/// proxies, and the first address that is not one is the client.
pub fn source_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(&client) {
                    return client;
                }
            }
            // A malformed hop ends the chain that can be believed.
            Err(_) => return client,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, from dual-stack sockets) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The environment of a request.
#[derive(Debug, Clone, Copy)]
pub struct Environment<'a> {
    /// `aws:SourceIp`.
    pub source_ip: IpAddr,
    /// `aws:SecureTransport`.
    pub secure: bool,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// `aws:RequestedRegion`.
    pub region: &'a str,
}

/// Adds the global environment keys: `aws:SourceIp`, `aws:SecureTransport`, `aws:CurrentTime`,
/// `aws:EpochTime`, `aws:RequestedRegion`, and `aws:UserAgent` / `aws:Referer` when the client
/// sent those headers.
pub fn add_environment(context: &mut Context, env: &Environment<'_>, headers: &HeaderMap) {
    context.insert_known("aws:sourceip", ip_text(env.source_ip));
    context.insert_known(
        "aws:securetransport",
        if env.secure { "true" } else { "false" },
    );
    context.insert_known("aws:currenttime", iso8601(env.now));
    context.insert_known("aws:epochtime", env.now.to_string());
    context.insert_known("aws:requestedregion", env.region);
    for (header, key) in [("user-agent", "aws:useragent"), ("referer", "aws:referer")] {
        if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
            context.insert_known(key, v);
        }
    }
}

/// An address as text, as `Display` writes it. IPv4 by hand: twice per request (the context,
/// `X-Forwarded-For`), and the formatting machinery (padding and width support) cost more than
/// the rest of the environment.
pub fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// Adds `aws:ResourceTag/<key>` for each tag of the resource.
pub fn add_resource_tags(context: &mut Context, tags: &[(String, String)]) {
    for (k, v) in tags {
        context.insert(&format!("aws:ResourceTag/{k}"), v.as_str());
    }
}

pub use iamgate_sigv4::timestamp::iso8601;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn addresses_read_as_display_writes_them() {
        let mut octets = 0x0102_0304u32;
        for _ in 0..10_000 {
            // A linear congruential walk over the address space, with the edges added below.
            octets = octets.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let ip = IpAddr::V4(octets.into());
            assert_eq!(ip_text(ip), ip.to_string());
        }
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "192.0.2.1",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(ip_text(ip), text);
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.7, 203.0.113.5, 10.1.1.1"),
        );
        let untrusted_peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(source_ip(untrusted_peer, &h, &trusted), untrusted_peer);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        // Right to left: 10.1.1.1 is trusted, 203.0.113.5 is the client; 198.51.100.7 was set by it.
        assert_eq!(
            source_ip(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("garbage, 10.1.1.1"),
        );
        assert_eq!(
            source_ip(proxy, &h, &trusted),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert_eq!(
            source_ip(mapped, &HeaderMap::new(), &[]),
            "192.0.2.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn environment_keys() {
        let mut c = Context::new();
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_static("aws-cli/2.0"));
        add_environment(
            &mut c,
            &Environment {
                source_ip: "192.0.2.1".parse().unwrap(),
                secure: false,
                now: 1_795_000_000,
                region: "us-east-1",
            },
            &h,
        );
        assert_eq!(c.single("aws:securetransport"), Some("false"));
        assert_eq!(c.single("aws:useragent"), Some("aws-cli/2.0"));
        assert_eq!(c.single("aws:referer"), None);
        assert_eq!(c.single("aws:currenttime"), Some("2026-11-18T11:06:40Z"));
    }
}
