//! Wildcard patterns (`*` and `?`) and the policy-variable templates built on them.
//!
//! A pattern is compiled once, when its policy loads, into the cheapest matcher that
//! answers it: everything, an exact string, a prefix, or a general glob.

use super::context::Context;

/// One piece of a compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text, compared byte for byte.
    Lit(String),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern without variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*` alone.
    Any,
    /// No wildcard at all.
    Exact(String),
    /// Literal text followed by a single trailing `*`.
    Prefix(String),
    /// Stars and literals, no `?`: `head*mid*...*tail`. Matched by searching for each middle
    /// literal once, leftmost first, which is exact for star-only patterns and never backtracks.
    Stars(Box<StarGlob>),
    /// Anything else (patterns with `?`).
    General(Vec<Piece>),
}

/// A star-only pattern, split at its stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StarGlob {
    /// The literal before the first star.
    head: String,
    /// The literals between stars, in order.
    middle: Vec<String>,
    /// The literal after the last star.
    tail: String,
    /// The pieces, for rebuilding.
    pieces: Vec<Piece>,
}

impl StarGlob {
    fn new(pieces: Vec<Piece>) -> StarGlob {
        let mut literals: Vec<String> = Vec::new();
        let mut current = String::new();
        for p in &pieces {
            match p {
                Piece::Lit(l) => current.push_str(l),
                Piece::Star => literals.push(std::mem::take(&mut current)),
                Piece::One => {}
            }
        }
        literals.push(current);
        let tail = literals.pop().unwrap_or_default();
        let head = if literals.is_empty() {
            String::new()
        } else {
            literals.remove(0)
        };
        let middle = literals.into_iter().filter(|l| !l.is_empty()).collect();
        StarGlob {
            head,
            middle,
            tail,
            pieces,
        }
    }

    fn matches(&self, text: &str) -> bool {
        if text.len() < self.head.len() + self.tail.len()
            || !starts_with(text, &self.head)
            || !ends_with(text, &self.tail)
        {
            return false;
        }
        let mut window = &text[self.head.len()..text.len() - self.tail.len()];
        for literal in &self.middle {
            match window.find(literal.as_str()) {
                Some(at) => window = &window[at + literal.len()..],
                None => return false,
            }
        }
        true
    }
}

impl Glob {
    /// Compiles pieces into the cheapest equivalent matcher.
    pub(crate) fn from_pieces(pieces: Vec<Piece>) -> Glob {
        let mut pieces = normalise(pieces);
        let star_only = !pieces.contains(&Piece::One);
        match pieces.as_mut_slice() {
            [] => Glob::Exact(String::new()),
            [Piece::Star] => Glob::Any,
            [Piece::Lit(l)] => Glob::Exact(std::mem::take(l)),
            [Piece::Lit(l), Piece::Star] => Glob::Prefix(std::mem::take(l)),
            _ if star_only => Glob::Stars(Box::new(StarGlob::new(pieces))),
            _ => Glob::General(pieces),
        }
    }

    /// Compiles a pattern in which `*` and `?` are wildcards and nothing else is special.
    pub(crate) fn parse(pattern: &str) -> Glob {
        // The common shapes (no wildcard, one trailing star) without building pieces.
        match pattern.find(['*', '?']) {
            None => return Glob::Exact(pattern.to_owned()),
            Some(0) if pattern.len() == 1 && pattern == "*" => return Glob::Any,
            Some(at) if at + 1 == pattern.len() && pattern.ends_with('*') && at > 0 => {
                return Glob::Prefix(pattern[..at].to_owned())
            }
            Some(_) => {}
        }
        let mut pieces = Vec::new();
        let mut rest = pattern;
        // `*` and `?` are ASCII, so splitting at their byte offsets keeps characters whole.
        while let Some(at) = rest.find(['*', '?']) {
            if at > 0 {
                pieces.push(Piece::Lit(rest[..at].to_owned()));
            }
            pieces.push(if rest.as_bytes()[at] == b'*' {
                Piece::Star
            } else {
                Piece::One
            });
            rest = &rest[at + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_owned()));
        }
        Glob::from_pieces(pieces)
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => equal(s, text),
            Glob::Prefix(p) => starts_with(text, p),
            Glob::Stars(stars) => stars.matches(text),
            Glob::General(pieces) => glob_match(pieces, text),
        }
    }

    /// The literal text every match starts with (possibly empty).
    pub(crate) fn literal_head(&self) -> &str {
        match self {
            Glob::Any => "",
            Glob::Exact(s) | Glob::Prefix(s) => s,
            Glob::Stars(stars) => &stars.head,
            Glob::General(pieces) => match pieces.first() {
                Some(Piece::Lit(l)) => l,
                _ => "",
            },
        }
    }

    /// Whether the pattern has no wildcard.
    pub(crate) fn exact(&self) -> Option<&str> {
        match self {
            Glob::Exact(s) => Some(s),
            _ => None,
        }
    }
}

// Most comparisons during a decision fail at their first byte: testing it inline before the
// full comparison saves a call to memcmp per candidate statement.

fn equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.last() == b.last() && a == b
}

fn starts_with(text: &str, prefix: &str) -> bool {
    let (t, p) = (text.as_bytes(), prefix.as_bytes());
    match p.first() {
        None => true,
        Some(first) => t.len() >= p.len() && t[0] == *first && &t[..p.len()] == p,
    }
}

fn ends_with(text: &str, suffix: &str) -> bool {
    let (t, s) = (text.as_bytes(), suffix.as_bytes());
    match s.last() {
        None => true,
        Some(last) => t.len() >= s.len() && t[t.len() - 1] == *last && &t[t.len() - s.len()..] == s,
    }
}

/// Merges adjacent literals and runs of stars so that matching never backtracks needlessly.
fn normalise(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match (out.last_mut(), piece) {
            (Some(Piece::Lit(prev)), Piece::Lit(next)) => prev.push_str(&next),
            (Some(Piece::Star), Piece::Star) => {}
            (_, Piece::Lit(l)) if l.is_empty() => {}
            (_, piece) => out.push(piece),
        }
    }
    out
}

fn char_len(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

/// Iterative glob matching: on a mismatch, retry from the last star one character further on.
/// Worst case O(pattern × text), never exponential.
pub(crate) fn glob_match(pieces: &[Piece], text: &str) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p < pieces.len() {
            match &pieces[p] {
                Piece::Star => {
                    resume = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Piece::One if t < text.len() => {
                    t += char_len(text, t);
                    p += 1;
                    continue;
                }
                Piece::Lit(l) if text[t..].starts_with(l.as_str()) => {
                    t += l.len();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        match resume {
            Some((rp, rt)) if rt < text.len() => {
                let next = rt + char_len(text, rt);
                resume = Some((rp, next));
                p = rp;
                t = next;
            }
            _ => return false,
        }
    }
}

/// A piece of a template: a glob piece or a policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplatePiece {
    /// A glob piece.
    Glob(Piece),
    /// `${key}` or `${key, 'default'}`; the key is lower-cased.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A pattern that may hold policy variables (`${aws:username}`); their values are substituted
/// at evaluation time as literal text, never as wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Template {
    /// No variable: compiled once.
    Fixed(Glob),
    /// Has variables: resolved per request.
    Variable(Vec<TemplatePiece>),
}

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(pub String);

impl Template {
    /// Parses `text`. With `variables` false (policies of version 2008-10-17 or without a
    /// version), `${...}` is literal text.
    pub(crate) fn parse(text: &str, variables: bool) -> Result<Template, TemplateError> {
        Self::parse_with(text, variables, true)
    }

    /// Parses `text` where `*` and `?` are literal (StringEquals values): only variables are special.
    pub(crate) fn parse_literal(text: &str, variables: bool) -> Result<Template, TemplateError> {
        Self::parse_with(text, variables, false)
    }

    fn parse_with(text: &str, variables: bool, wildcards: bool) -> Result<Template, TemplateError> {
        Ok(Template::from_pieces(tokenize(text, variables, wildcards)?))
    }

    /// The pieces of a pattern in which `*` and `?` are wildcards.
    pub(crate) fn tokens(text: &str, variables: bool) -> Result<Vec<TemplatePiece>, TemplateError> {
        tokenize(text, variables, true)
    }

    /// Compiles pieces: once and for all when there is no variable.
    pub(crate) fn from_pieces(pieces: Vec<TemplatePiece>) -> Template {
        if pieces
            .iter()
            .any(|p| matches!(p, TemplatePiece::Var { .. }))
        {
            return Template::Variable(pieces);
        }
        let globs = pieces
            .into_iter()
            .filter_map(|p| match p {
                TemplatePiece::Glob(g) => Some(g),
                TemplatePiece::Var { .. } => None,
            })
            .collect();
        Template::Fixed(Glob::from_pieces(globs))
    }

    /// Resolves the variables against `context`. `None` when a variable has neither a value nor
    /// a default: the element that holds it then matches nothing.
    pub(crate) fn resolve(&self, context: &Context) -> Option<std::borrow::Cow<'_, Glob>> {
        match self {
            Template::Fixed(glob) => Some(std::borrow::Cow::Borrowed(glob)),
            Template::Variable(pieces) => {
                let mut out = Vec::with_capacity(pieces.len());
                for piece in pieces {
                    match piece {
                        TemplatePiece::Glob(g) => out.push(g.clone()),
                        TemplatePiece::Var { key, default } => {
                            let value = match context.single(key) {
                                Some(v) => v.to_owned(),
                                None => default.clone()?,
                            };
                            out.push(Piece::Lit(value));
                        }
                    }
                }
                Some(std::borrow::Cow::Owned(Glob::from_pieces(out)))
            }
        }
    }

    /// Lower-cases literal text (for case-insensitive comparisons); variables are left as they are.
    pub(crate) fn lowercase(self) -> Template {
        match self {
            Template::Fixed(glob) => Template::Fixed(lower_glob(glob)),
            Template::Variable(pieces) => Template::Variable(
                pieces
                    .into_iter()
                    .map(|p| match p {
                        TemplatePiece::Glob(Piece::Lit(l)) => {
                            TemplatePiece::Glob(Piece::Lit(l.to_lowercase()))
                        }
                        other => other,
                    })
                    .collect(),
            ),
        }
    }
}

fn lower_pieces(pieces: Vec<Piece>) -> Vec<Piece> {
    pieces
        .into_iter()
        .map(|p| match p {
            Piece::Lit(l) => Piece::Lit(l.to_lowercase()),
            other => other,
        })
        .collect()
}

/// Lower-cases a glob's literal text.
pub(crate) fn lower_glob(glob: Glob) -> Glob {
    match glob {
        Glob::Any => Glob::Any,
        Glob::Exact(s) => Glob::Exact(s.to_lowercase()),
        Glob::Prefix(s) => Glob::Prefix(s.to_lowercase()),
        Glob::Stars(stars) => Glob::from_pieces(lower_pieces(stars.pieces)),
        Glob::General(pieces) => Glob::General(
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Lit(l) => Piece::Lit(l.to_lowercase()),
                    other => other,
                })
                .collect(),
        ),
    }
}

fn tokenize(
    text: &str,
    variables: bool,
    wildcards: bool,
) -> Result<Vec<TemplatePiece>, TemplateError> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if variables && rest.starts_with("${") {
            let end = rest.find('}').ok_or_else(|| {
                TemplateError(format!("unterminated policy variable in '{text}'"))
            })?;
            let inner = &rest[2..end];
            rest = &rest[end + 1..];
            match inner {
                // The escapes stand for the literal characters, never for wildcards.
                "*" | "?" | "$" => lit.push_str(inner),
                _ => {
                    if !lit.is_empty() {
                        out.push(TemplatePiece::Glob(Piece::Lit(std::mem::take(&mut lit))));
                    }
                    out.push(parse_variable(inner, text)?);
                }
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if wildcards && (c == '*' || c == '?') {
            if !lit.is_empty() {
                out.push(TemplatePiece::Glob(Piece::Lit(std::mem::take(&mut lit))));
            }
            out.push(TemplatePiece::Glob(if c == '*' {
                Piece::Star
            } else {
                Piece::One
            }));
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() {
        out.push(TemplatePiece::Glob(Piece::Lit(lit)));
    }
    Ok(out)
}

fn parse_variable(inner: &str, text: &str) -> Result<TemplatePiece, TemplateError> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let unquoted = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .ok_or_else(|| {
                    TemplateError(format!(
                        "the default of a policy variable must be quoted with single quotes in '{text}'"
                    ))
                })?;
            (key.trim(), Some(unquoted.to_owned()))
        }
    };
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(TemplateError(format!(
            "invalid policy variable '${{{inner}}}' in '{text}'"
        )));
    }
    Ok(TemplatePiece::Var {
        key: key.to_ascii_lowercase(),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_shapes() {
        assert_eq!(Glob::parse("*"), Glob::Any);
        assert_eq!(Glob::parse("**"), Glob::Any);
        assert_eq!(Glob::parse("abc"), Glob::Exact("abc".into()));
        assert_eq!(Glob::parse("ab*"), Glob::Prefix("ab".into()));
        assert!(matches!(Glob::parse("a*b"), Glob::Stars(_)));
        assert!(matches!(Glob::parse("a?b"), Glob::General(_)));
    }

    #[test]
    fn glob_matching() {
        let g = Glob::parse("s3:get?bject");
        assert!(g.matches("s3:getobject"));
        assert!(!g.matches("s3:getbject"));
        assert!(Glob::parse("a*b*c").matches("aXbYbZc"));
        assert!(!Glob::parse("a*b*c").matches("aXbYbZ"));
        assert!(Glob::parse("*").matches(""));
        assert!(Glob::parse("?").matches("é"));
        assert!(!Glob::parse("??").matches("é"));
        assert!(Glob::parse("*/q1.csv").matches("reports/2026/q1.csv"));
        // Star-only patterns: overlapping head and tail, repeated middles.
        assert!(!Glob::parse("ab*ba").matches("aba"));
        assert!(Glob::parse("ab*ba").matches("abba"));
        assert!(Glob::parse("*a*a*").matches("xaxa"));
        assert!(!Glob::parse("*a*a*").matches("xax"));
        assert!(Glob::parse("*item").matches("getitem"));
    }

    #[test]
    fn templates_and_escapes() {
        let ctx = Context::from_pairs([("aws:username", "alice")]);
        let t = Template::parse("home/${aws:username}/*", true).unwrap();
        let glob = t.resolve(&ctx).unwrap();
        assert!(glob.matches("home/alice/x"));
        assert!(!glob.matches("home/bob/x"));

        let star = Template::parse("a${*}b", true).unwrap();
        let glob = star.resolve(&ctx).unwrap();
        assert!(glob.matches("a*b"));
        assert!(!glob.matches("axyzb"));

        let literal = Template::parse("home/${aws:username}/*", false).unwrap();
        assert!(literal
            .resolve(&ctx)
            .unwrap()
            .matches("home/${aws:username}/x"));

        let default = Template::parse("${aws:missing, 'shared'}/*", true).unwrap();
        assert!(default.resolve(&ctx).unwrap().matches("shared/readme"));
        let missing = Template::parse("${aws:missing}/*", true).unwrap();
        assert!(missing.resolve(&ctx).is_none());
    }

    #[test]
    fn substituted_values_are_literal() {
        let ctx = Context::from_pairs([("aws:username", "*")]);
        let t = Template::parse("home/${aws:username}", true).unwrap();
        let glob = t.resolve(&ctx).unwrap();
        assert!(glob.matches("home/*"));
        assert!(!glob.matches("home/bob"));
    }

    #[test]
    fn bad_variables() {
        assert!(Template::parse("${aws:username", true).is_err());
        assert!(Template::parse("${}", true).is_err());
        assert!(Template::parse("${aws:username, shared}", true).is_err());
    }
}
