//! Condition operators: parsed and typed when a policy loads, evaluated per request.
//!
//! The rules, as AWS documents them: several values for one key are OR, several keys and
//! several operators are AND; on a missing key a positive operator is false, a negated one true,
//! `...IfExists` true, `ForAllValues:` true and `ForAnyValue:` false; `Null` tests presence.

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use serde_json::Value;

use super::arn::{split_arn, ArnPattern};
use super::context::Context;
use super::wildcard::{lower_glob, Template};

/// How numbers and dates compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The set qualifier of an operator on a multi-valued key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    ForAllValues,
    ForAnyValue,
}

/// The policy's values, parsed to the operator's type.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// StringEquals and friends: literal text (variables allowed).
    Strings {
        values: Vec<Template>,
        ignore_case: bool,
    },
    /// StringLike: wildcard patterns (variables allowed).
    Likes(Vec<Template>),
    Numbers(Cmp, Vec<f64>),
    /// Nanoseconds since the Unix epoch.
    Dates(Cmp, Vec<i128>),
    Bools(Vec<bool>),
    Binaries(Vec<Vec<u8>>),
    Ips(Vec<IpNet>),
    Arns(Vec<ArnPattern>),
    /// `Null`: true means "the key must be absent".
    Null(bool),
}

/// One compiled `operator: { key: values }` pair.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// The operator as written, for explanations.
    pub(crate) operator: String,
    /// The key as written.
    pub(crate) key: String,
    key_lower: String,
    negated: bool,
    if_exists: bool,
    qualifier: Option<Qualifier>,
    values: Values,
}

/// What goes wrong compiling a condition; the caller adds where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConditionError(pub String);

impl Condition {
    /// Compiles `operator: {key: value}`. `variables` is true for `2012-10-17` policies.
    pub(crate) fn compile(
        operator: &str,
        key: &str,
        value: &Value,
        variables: bool,
    ) -> Result<Condition, ConditionError> {
        let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (Some(Qualifier::ForAllValues), rest)
        } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (Some(Qualifier::ForAnyValue), rest)
        } else {
            (None, operator)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        if key.is_empty() {
            return Err(ConditionError(format!(
                "operator '{operator}' has an empty condition key"
            )));
        }
        let texts = scalar_texts(value)
            .map_err(|e| ConditionError(format!("operator '{operator}', key '{key}': {e}")))?;
        let bad = |what: &str, v: &str| {
            ConditionError(format!(
                "operator '{operator}', key '{key}': '{v}' is not a valid {what}"
            ))
        };
        let template = |v: &String, wildcards: bool| {
            let t = if wildcards {
                Template::parse(v, variables)
            } else {
                Template::parse_literal(v, variables)
            };
            t.map_err(|e| ConditionError(format!("operator '{operator}', key '{key}': {}", e.0)))
        };
        let negated;
        let values = match base {
            "StringEquals"
            | "StringNotEquals"
            | "StringEqualsIgnoreCase"
            | "StringNotEqualsIgnoreCase" => {
                negated = base.starts_with("StringNot");
                let ignore_case = base.ends_with("IgnoreCase");
                let values = texts
                    .iter()
                    .map(|v| {
                        let t = template(v, false)?;
                        Ok(if ignore_case { t.lowercase() } else { t })
                    })
                    .collect::<Result<_, ConditionError>>()?;
                Values::Strings {
                    values,
                    ignore_case,
                }
            }
            "StringLike" | "StringNotLike" => {
                negated = base == "StringNotLike";
                Values::Likes(
                    texts
                        .iter()
                        .map(|v| template(v, true))
                        .collect::<Result<_, _>>()?,
                )
            }
            "NumericEquals"
            | "NumericNotEquals"
            | "NumericLessThan"
            | "NumericLessThanEquals"
            | "NumericGreaterThan"
            | "NumericGreaterThanEquals" => {
                negated = base == "NumericNotEquals";
                let cmp = comparison(&base["Numeric".len()..]);
                let numbers = texts
                    .iter()
                    .map(|v| parse_number(v).ok_or_else(|| bad("number", v)))
                    .collect::<Result<_, _>>()?;
                Values::Numbers(cmp, numbers)
            }
            "DateEquals"
            | "DateNotEquals"
            | "DateLessThan"
            | "DateLessThanEquals"
            | "DateGreaterThan"
            | "DateGreaterThanEquals" => {
                negated = base == "DateNotEquals";
                let cmp = comparison(&base["Date".len()..]);
                let dates = texts
                    .iter()
                    .map(|v| parse_date(v).ok_or_else(|| bad("date", v)))
                    .collect::<Result<_, _>>()?;
                Values::Dates(cmp, dates)
            }
            "Bool" => {
                negated = false;
                Values::Bools(
                    texts
                        .iter()
                        .map(|v| parse_bool(v).ok_or_else(|| bad("boolean", v)))
                        .collect::<Result<_, _>>()?,
                )
            }
            "BinaryEquals" => {
                negated = false;
                Values::Binaries(
                    texts
                        .iter()
                        .map(|v| {
                            base64::engine::general_purpose::STANDARD
                                .decode(v)
                                .map_err(|_| bad("base64 value", v))
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            "IpAddress" | "NotIpAddress" => {
                negated = base == "NotIpAddress";
                Values::Ips(
                    texts
                        .iter()
                        .map(|v| parse_ip_range(v).ok_or_else(|| bad("IP address or range", v)))
                        .collect::<Result<_, _>>()?,
                )
            }
            "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => {
                negated = base.starts_with("ArnNot");
                Values::Arns(
                    texts
                        .iter()
                        .map(|v| {
                            if v != "*" && split_arn(v).is_none() && !v.starts_with("${") {
                                return Err(bad("ARN", v));
                            }
                            ArnPattern::parse(v, variables).map_err(|e| {
                                ConditionError(format!(
                                    "operator '{operator}', key '{key}': {}",
                                    e.0
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            "Null" => {
                if if_exists || qualifier.is_some() {
                    return Err(ConditionError(format!(
                        "operator '{operator}' is not valid: Null takes no qualifier or IfExists"
                    )));
                }
                negated = false;
                match texts.as_slice() {
                    [one] => Values::Null(parse_bool(one).ok_or_else(|| bad("boolean", one))?),
                    _ => {
                        return Err(ConditionError(format!(
                            "operator 'Null', key '{key}': exactly one value, true or false"
                        )))
                    }
                }
            }
            _ => {
                return Err(ConditionError(format!(
                    "unknown condition operator '{operator}'"
                )))
            }
        };
        Ok(Condition {
            operator: operator.to_owned(),
            key: key.to_owned(),
            key_lower: key.to_ascii_lowercase(),
            negated,
            if_exists,
            qualifier,
            values,
        })
    }

    /// Evaluates the condition. `missing` hears of a key the request lacks.
    pub(crate) fn evaluate(&self, ctx: &Context, missing: &mut dyn FnMut(&str)) -> bool {
        let Some(request) = ctx.get(&self.key_lower) else {
            if let Values::Null(absent) = self.values {
                return absent;
            }
            missing(&self.key);
            return self.if_exists
                || self.qualifier == Some(Qualifier::ForAllValues)
                || (self.qualifier.is_none() && self.negated);
        };
        if let Values::Null(absent) = self.values {
            return !absent;
        }
        let positive = |v: &str| self.positive(v, ctx);
        match self.qualifier {
            None => request.iter().any(|v| positive(v)) != self.negated,
            Some(Qualifier::ForAnyValue) => request.iter().any(|v| positive(v) != self.negated),
            Some(Qualifier::ForAllValues) => request.iter().all(|v| positive(v) != self.negated),
        }
    }

    /// Whether one request value matches at least one policy value, before negation. Values
    /// without variables are matched as compiled; a variable is resolved only where it stands.
    fn positive(&self, v: &str, ctx: &Context) -> bool {
        match &self.values {
            Values::Strings {
                values,
                ignore_case,
            } => {
                let v: Cow<'_, str> = if *ignore_case {
                    Cow::Owned(v.to_lowercase())
                } else {
                    Cow::Borrowed(v)
                };
                values.iter().any(|t| match t {
                    Template::Fixed(glob) => glob.matches(&v),
                    // A substituted value is compared as case-blind as the policy's own text.
                    Template::Variable(_) if *ignore_case => t
                        .resolve(ctx)
                        .is_some_and(|g| lower_glob(g.into_owned()).matches(&v)),
                    Template::Variable(_) => t.resolve(ctx).is_some_and(|g| g.matches(&v)),
                })
            }
            Values::Likes(values) => values.iter().any(|t| match t {
                Template::Fixed(glob) => glob.matches(v),
                Template::Variable(_) => t.resolve(ctx).is_some_and(|g| g.matches(v)),
            }),
            Values::Numbers(cmp, ns) => {
                parse_number(v).is_some_and(|r| ns.iter().any(|p| cmp.test(r, *p)))
            }
            Values::Dates(cmp, ds) => {
                parse_date(v).is_some_and(|r| ds.iter().any(|p| cmp.test(r, *p)))
            }
            Values::Bools(bs) => parse_bool(v).is_some_and(|r| bs.contains(&r)),
            Values::Binaries(bs) => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(v);
                let bytes = decoded.as_deref().unwrap_or(v.as_bytes());
                bs.iter().any(|b| b.as_slice() == bytes)
            }
            Values::Ips(nets) => v
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Values::Arns(patterns) => {
                let segments = split_arn(v);
                patterns
                    .iter()
                    .any(|p| p.matches(v, segments.as_ref(), ctx))
            }
            Values::Null(_) => false,
        }
    }
}

fn comparison(suffix: &str) -> Cmp {
    match suffix {
        "LessThan" => Cmp::Lt,
        "LessThanEquals" => Cmp::Le,
        "GreaterThan" => Cmp::Gt,
        "GreaterThanEquals" => Cmp::Ge,
        _ => Cmp::Eq,
    }
}

/// A condition's value: a scalar or a list of scalars, each read as text.
fn scalar_texts(value: &Value) -> Result<Vec<String>, String> {
    fn one(v: &Value) -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!(
                "a condition value must be a string, number or boolean, not {}",
                kind_of(other)
            )),
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => Err("the list of values is empty".into()),
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_number(v: &str) -> Option<f64> {
    let v = v.trim();
    let valid = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    valid
        .then(|| v.parse::<f64>().ok())
        .flatten()
        .filter(|n| n.is_finite())
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A date as ISO 8601 (with or without a time and an offset; UTC when none) or as epoch seconds.
pub(crate) fn parse_date(v: &str) -> Option<i128> {
    use time::format_description::well_known::Iso8601;
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<i64>().ok().map(|s| i128::from(s) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &Iso8601::PARSING) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(v, &Iso8601::PARSING) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    time::Date::parse(v, &Iso8601::PARSING)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

/// A CIDR range, or a bare address meaning that single host.
fn parse_ip_range(v: &str) -> Option<IpNet> {
    let v = v.trim();
    v.parse::<IpNet>()
        .ok()
        .or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(op: &str, key: &str, value: Value) -> Condition {
        Condition::compile(op, key, &value, true).unwrap()
    }

    fn eval(c: &Condition, ctx: &Context) -> bool {
        c.evaluate(ctx, &mut |_| {})
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::new();
        for (k, vs) in pairs {
            c.insert_values(k, vs.iter().map(|v| v.to_string()).collect());
        }
        c
    }

    #[test]
    fn string_family() {
        let c = cond(
            "StringEquals",
            "aws:PrincipalTag/team",
            json!(["data", "ops"]),
        );
        assert!(eval(&c, &ctx(&[("aws:principaltag/team", &["ops"])])));
        assert!(!eval(&c, &ctx(&[("aws:PrincipalTag/team", &["Ops"])])));
        assert!(!eval(&c, &Context::new()));

        let c = cond("StringNotEquals", "k", json!(["a", "b"]));
        assert!(!eval(&c, &ctx(&[("k", &["a"])])));
        assert!(eval(&c, &ctx(&[("k", &["c"])])));
        assert!(
            eval(&c, &Context::new()),
            "negated on a missing key is true"
        );

        let c = cond("StringEqualsIgnoreCase", "k", json!("DaTa"));
        assert!(eval(&c, &ctx(&[("k", &["data"])])));
        let c = cond("StringNotEqualsIgnoreCase", "k", json!("DaTa"));
        assert!(!eval(&c, &ctx(&[("k", &["DATA"])])));

        let c = cond("StringLike", "k", json!("aws-cli/*"));
        assert!(eval(&c, &ctx(&[("k", &["aws-cli/2 Python"])])));
        assert!(!eval(&c, &ctx(&[("k", &["boto3"])])));
        let c = cond("StringNotLike", "k", json!(["private/*", "hr/*"]));
        assert!(eval(&c, &ctx(&[("k", &["public/x"])])));
        assert!(!eval(&c, &ctx(&[("k", &["hr/x"])])));

        // StringEquals treats * literally.
        let c = cond("StringEquals", "k", json!("a*"));
        assert!(!eval(&c, &ctx(&[("k", &["abc"])])));
        assert!(eval(&c, &ctx(&[("k", &["a*"])])));
    }

    #[test]
    fn key_names_are_case_insensitive() {
        let c = cond("StringEquals", "AWS:SourceVpc", json!("vpc-1"));
        assert!(eval(&c, &ctx(&[("aws:sourcevpc", &["vpc-1"])])));
    }

    #[test]
    fn if_exists() {
        let c = cond("StringEqualsIfExists", "k", json!("a"));
        assert!(eval(&c, &Context::new()));
        assert!(eval(&c, &ctx(&[("k", &["a"])])));
        assert!(!eval(&c, &ctx(&[("k", &["b"])])));
    }

    #[test]
    fn numeric_family() {
        let c = cond("NumericLessThanEquals", "s3:max-keys", json!("100"));
        assert!(eval(&c, &ctx(&[("s3:max-keys", &["100"])])));
        assert!(!eval(&c, &ctx(&[("s3:max-keys", &["101"])])));
        assert!(!eval(&c, &ctx(&[("s3:max-keys", &["lots"])])));
        let c = cond("NumericEquals", "n", json!(10));
        assert!(eval(&c, &ctx(&[("n", &["10.0"])])));
        let c = cond("NumericNotEquals", "n", json!([1, 2]));
        assert!(!eval(&c, &ctx(&[("n", &["2"])])));
        assert!(eval(&c, &ctx(&[("n", &["3"])])));
        let c = cond("NumericGreaterThan", "n", json!("1.5"));
        assert!(eval(&c, &ctx(&[("n", &["2"])])));
        assert!(!eval(&c, &ctx(&[("n", &["1.5"])])));
        let c = cond("NumericGreaterThanEquals", "n", json!("1.5"));
        assert!(eval(&c, &ctx(&[("n", &["1.5"])])));
        let c = cond("NumericLessThan", "n", json!("-3"));
        assert!(eval(&c, &ctx(&[("n", &["-4"])])));
        assert!(Condition::compile("NumericEquals", "n", &json!("ten"), true).is_err());
        assert!(Condition::compile("NumericEquals", "n", &json!("0x10"), true).is_err());
    }

    #[test]
    fn date_family() {
        let c = cond(
            "DateLessThan",
            "aws:CurrentTime",
            json!("2030-01-01T00:00:00Z"),
        );
        assert!(eval(
            &c,
            &ctx(&[("aws:currenttime", &["2026-11-27T12:00:00Z"])])
        ));
        assert!(!eval(
            &c,
            &ctx(&[("aws:currenttime", &["2031-01-01T00:00:00Z"])])
        ));
        // Epoch seconds on either side.
        assert!(eval(&c, &ctx(&[("aws:currenttime", &["1700000000"])])));
        let c = cond("DateGreaterThan", "aws:EpochTime", json!(1700000000));
        assert!(eval(
            &c,
            &ctx(&[("aws:epochtime", &["2026-01-01T00:00:00Z"])])
        ));
        // Offsets, fractions and bare dates.
        let c = cond("DateEquals", "t", json!("2026-11-27T13:00:00+01:00"));
        assert!(eval(&c, &ctx(&[("t", &["2026-11-27T12:00:00.000Z"])])));
        let c = cond("DateGreaterThanEquals", "t", json!("2026-11-27"));
        assert!(eval(&c, &ctx(&[("t", &["2026-11-27T00:00:00Z"])])));
        let c = cond("DateNotEquals", "t", json!("2026-11-27"));
        assert!(eval(&c, &ctx(&[("t", &["2026-11-28"])])));
        let c = cond("DateLessThanEquals", "t", json!("2026-11-27"));
        assert!(!eval(&c, &ctx(&[("t", &["garbage"])])));
        assert!(Condition::compile("DateEquals", "t", &json!("yesterday"), true).is_err());
        assert!(Condition::compile("DateEquals", "t", &json!("2026-13-01"), true).is_err());
    }

    #[test]
    fn bool_binary_null() {
        let c = cond("Bool", "aws:SecureTransport", json!("false"));
        assert!(eval(&c, &ctx(&[("aws:securetransport", &["false"])])));
        assert!(!eval(&c, &ctx(&[("aws:securetransport", &["true"])])));
        assert!(!eval(&c, &Context::new()));
        let c = cond("BoolIfExists", "aws:MultiFactorAuthPresent", json!(false));
        assert!(eval(&c, &Context::new()));
        assert!(Condition::compile("Bool", "k", &json!("yes"), true).is_err());

        let c = cond("BinaryEquals", "k", json!("QmluYXJ5"));
        assert!(eval(&c, &ctx(&[("k", &["QmluYXJ5"])])));
        assert!(!eval(&c, &ctx(&[("k", &["QmluYXJ6"])])));
        assert!(Condition::compile("BinaryEquals", "k", &json!("%%%"), true).is_err());

        let c = cond("Null", "aws:TokenIssueTime", json!("true"));
        assert!(eval(&c, &Context::new()));
        assert!(!eval(&c, &ctx(&[("aws:tokenissuetime", &["x"])])));
        let c = cond("Null", "k", json!("false"));
        assert!(eval(&c, &ctx(&[("k", &["x"])])));
        assert!(!eval(&c, &Context::new()));
        assert!(Condition::compile("NullIfExists", "k", &json!("true"), true).is_err());
    }

    #[test]
    fn ip_family() {
        let c = cond(
            "IpAddress",
            "aws:SourceIp",
            json!(["203.0.113.0/24", "2001:db8::/32"]),
        );
        assert!(eval(&c, &ctx(&[("aws:sourceip", &["203.0.113.77"])])));
        assert!(eval(&c, &ctx(&[("aws:sourceip", &["2001:db8:1::1"])])));
        assert!(!eval(&c, &ctx(&[("aws:sourceip", &["198.51.100.1"])])));
        assert!(!eval(&c, &ctx(&[("aws:sourceip", &["not-an-ip"])])));
        let c = cond("IpAddress", "aws:SourceIp", json!("192.0.2.10"));
        assert!(eval(&c, &ctx(&[("aws:sourceip", &["192.0.2.10"])])));
        assert!(!eval(&c, &ctx(&[("aws:sourceip", &["192.0.2.11"])])));
        let c = cond("NotIpAddress", "aws:SourceIp", json!("203.0.113.0/24"));
        assert!(!eval(&c, &ctx(&[("aws:sourceip", &["203.0.113.9"])])));
        assert!(eval(&c, &ctx(&[("aws:sourceip", &["10.0.0.1"])])));
        assert!(Condition::compile("IpAddress", "k", &json!("300.1.1.1/8"), true).is_err());
        assert!(Condition::compile("IpAddress", "k", &json!("10.0.0.0/33"), true).is_err());
    }

    #[test]
    fn arn_family() {
        let c = cond(
            "ArnLike",
            "aws:SourceArn",
            json!("arn:aws:sns:*:111122223333:*"),
        );
        assert!(eval(
            &c,
            &ctx(&[("aws:sourcearn", &["arn:aws:sns:eu-west-1:111122223333:a"])])
        ));
        assert!(!eval(
            &c,
            &ctx(&[("aws:sourcearn", &["arn:aws:sns:eu-west-1:999999999999:a"])])
        ));
        let c = cond(
            "ArnEquals",
            "aws:SourceArn",
            json!("arn:aws:sns:us-east-1:1:a"),
        );
        assert!(eval(
            &c,
            &ctx(&[("aws:sourcearn", &["arn:aws:sns:us-east-1:1:a"])])
        ));
        let c = cond("ArnNotLike", "aws:SourceArn", json!("arn:aws:sns:*:1:*"));
        assert!(eval(&c, &ctx(&[("aws:sourcearn", &["arn:aws:sns:x:2:a"])])));
        assert!(Condition::compile("ArnLike", "k", &json!("not-an-arn"), true).is_err());
    }

    #[test]
    fn set_qualifiers() {
        let any = cond(
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            json!(["project", "owner"]),
        );
        let all = cond(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            json!(["project", "owner"]),
        );
        let hit = ctx(&[("aws:tagkeys", &["cost", "owner"])]);
        let inside = ctx(&[("aws:tagkeys", &["owner", "project"])]);
        assert!(eval(&any, &hit));
        assert!(!eval(&all, &hit));
        assert!(eval(&all, &inside));
        assert!(
            !eval(&any, &Context::new()),
            "ForAnyValue on a missing key is false"
        );
        assert!(
            eval(&all, &Context::new()),
            "ForAllValues on a missing key is true"
        );
        assert!(eval(&all, &ctx(&[("aws:tagkeys", &[])])));
        assert!(!eval(&any, &ctx(&[("aws:tagkeys", &[])])));

        let none_of = cond(
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            json!(["secret"]),
        );
        assert!(eval(&none_of, &hit));
        assert!(!eval(&none_of, &ctx(&[("aws:tagkeys", &["a", "secret"])])));
        let one_not = cond("ForAnyValue:StringNotLike", "aws:TagKeys", json!("cost*"));
        assert!(eval(&one_not, &hit));
        assert!(!eval(
            &one_not,
            &ctx(&[("aws:tagkeys", &["cost-a", "cost-b"])])
        ));
    }

    #[test]
    fn variables_in_values() {
        let c = cond("StringLike", "s3:prefix", json!("${aws:username}/*"));
        assert!(eval(
            &c,
            &ctx(&[("aws:username", &["alice"]), ("s3:prefix", &["alice/p"])])
        ));
        assert!(!eval(
            &c,
            &ctx(&[("aws:username", &["alice"]), ("s3:prefix", &["bob/p"])])
        ));
        assert!(
            !eval(&c, &ctx(&[("s3:prefix", &["bob/p"])])),
            "no value, no match"
        );
        let literal =
            Condition::compile("StringEquals", "k", &json!("${aws:username}"), false).unwrap();
        assert!(eval(&literal, &ctx(&[("k", &["${aws:username}"])])));
    }

    #[test]
    fn ignore_case_applies_to_substituted_values() {
        let c = cond(
            "StringEqualsIgnoreCase",
            "aws:PrincipalTag/owner",
            json!("${aws:username}"),
        );
        assert!(eval(
            &c,
            &ctx(&[
                ("aws:username", &["Alice"]),
                ("aws:principaltag/owner", &["alice"])
            ])
        ));
        assert!(eval(
            &c,
            &ctx(&[
                ("aws:username", &["Alice"]),
                ("aws:principaltag/owner", &["Alice"])
            ])
        ));
        let c = cond(
            "StringNotEqualsIgnoreCase",
            "aws:PrincipalTag/owner",
            json!("${aws:username}"),
        );
        assert!(!eval(
            &c,
            &ctx(&[
                ("aws:username", &["ALICE"]),
                ("aws:principaltag/owner", &["alice"])
            ])
        ));
    }

    #[test]
    fn unknown_and_malformed() {
        assert!(Condition::compile("StringEqualz", "k", &json!("a"), true).is_err());
        assert!(Condition::compile("ForSomeValues:StringEquals", "k", &json!("a"), true).is_err());
        assert!(Condition::compile("StringEquals", "k", &json!({"a": 1}), true).is_err());
        assert!(Condition::compile("StringEquals", "k", &json!([]), true).is_err());
        assert!(Condition::compile("StringEquals", "k", &json!(null), true).is_err());
    }

    #[test]
    fn missing_keys_are_reported() {
        let c = cond("StringEquals", "aws:PrincipalTag/team", json!("x"));
        let mut seen = Vec::new();
        c.evaluate(&Context::new(), &mut |k| seen.push(k.to_owned()));
        assert_eq!(seen, vec!["aws:PrincipalTag/team".to_owned()]);
    }
}
