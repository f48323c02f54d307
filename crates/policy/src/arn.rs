//! ARN patterns: resources and the Arn condition operators match an ARN segment by segment.
//!
//! An ARN has six colon-separated segments (`arn:partition:service:region:account:resource`);
//! everything after the fifth colon is one segment, so there a `*` also crosses `/` and `:`.
//! Nothing is normalised: `a//b` and `a/./b` are different resources.

use super::context::Context;
use super::wildcard::{Glob, Piece, Template, TemplateError, TemplatePiece};

/// Splits an ARN into its six segments, or `None` when it is not one.
pub(crate) fn split_arn(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    let segments = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (segments[0] == "arn").then_some(segments)
}

/// A compiled resource or ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `*`: every resource.
    Any,
    /// Six segments without variables, compiled once. `order` lists the segments worth
    /// testing (not `*`), most discriminating first: the resource, then service and account.
    Fixed {
        segments: Box<[Glob; 6]>,
        order: Box<[u8]>,
    },
    /// Six segment templates, some with variables.
    Segments(Box<[Template; 6]>),
    /// Something that is not shaped like an ARN: matched as a whole string.
    Whole(Template),
}

impl ArnPattern {
    /// Compiles a pattern; `variables` tells whether `${...}` is a policy variable.
    pub(crate) fn parse(text: &str, variables: bool) -> Result<ArnPattern, TemplateError> {
        if text == "*" {
            return Ok(ArnPattern::Any);
        }
        if !(variables && text.contains("${")) {
            return Ok(ArnPattern::without_variables(text));
        }
        ArnPattern::templated(text, variables)
    }

    /// The general case: variables may stand anywhere, even for a colon.
    fn templated(text: &str, variables: bool) -> Result<ArnPattern, TemplateError> {
        let pieces = Template::tokens(text, variables)?;
        let whole = Template::from_pieces(pieces.clone());
        // Split on the first five colons of the pattern's own literal text; a colon inside a
        // variable's value stays in its segment.
        let mut segments: Vec<Vec<TemplatePiece>> = vec![Vec::new()];
        for piece in pieces {
            match piece {
                TemplatePiece::Glob(Piece::Lit(lit)) => {
                    let mut rest = lit.as_str();
                    while segments.len() < 6 {
                        match rest.split_once(':') {
                            Some((head, tail)) => {
                                if !head.is_empty() {
                                    push_lit(&mut segments, head);
                                }
                                segments.push(Vec::new());
                                rest = tail;
                            }
                            None => break,
                        }
                    }
                    if !rest.is_empty() {
                        push_lit(&mut segments, rest);
                    }
                }
                other => segments
                    .last_mut()
                    .into_iter()
                    .for_each(|s| s.push(other.clone())),
            }
        }
        if segments.len() != 6 {
            return Ok(ArnPattern::Whole(whole));
        }
        let templates: Vec<Template> = segments.into_iter().map(Template::from_pieces).collect();
        let array: [Template; 6] = templates
            .try_into()
            .map_err(|_| TemplateError(format!("'{text}' is not an ARN")))?;
        if array.iter().all(|t| matches!(t, Template::Fixed(_))) {
            let globs: Vec<Glob> = array
                .into_iter()
                .filter_map(|t| match t {
                    Template::Fixed(g) => Some(g),
                    Template::Variable(_) => None,
                })
                .collect();
            let segments: Box<[Glob; 6]> = globs
                .try_into()
                .map_err(|_| TemplateError(format!("'{text}' is not an ARN")))?;
            return Ok(ArnPattern::fixed(segments));
        }
        Ok(ArnPattern::Segments(Box::new(array)))
    }

    /// The common case, compiled without building template pieces: every colon is a separator.
    fn without_variables(text: &str) -> ArnPattern {
        let mut it = text.splitn(6, ':');
        let parts = [
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ];
        match parts {
            [Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)] => {
                ArnPattern::fixed(Box::new([a, b, c, d, e, f].map(Glob::parse)))
            }
            _ => ArnPattern::Whole(Template::Fixed(Glob::parse(text))),
        }
    }

    fn fixed(segments: Box<[Glob; 6]>) -> ArnPattern {
        let order = [5u8, 2, 4, 3, 1, 0]
            .into_iter()
            .filter(|&i| segments[usize::from(i)] != Glob::Any)
            .collect();
        ArnPattern::Fixed { segments, order }
    }

    /// Whether `arn`, already split (`segments`), matches. Unresolvable variables match nothing.
    pub(crate) fn matches(&self, arn: &str, segments: Option<&[&str; 6]>, ctx: &Context) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Whole(t) => t.resolve(ctx).is_some_and(|g| g.matches(arn)),
            ArnPattern::Fixed {
                segments: globs,
                order,
            } => match segments {
                Some(segments) => order.iter().all(|&i| {
                    let i = usize::from(i);
                    globs[i].matches(segments[i])
                }),
                None => false,
            },
            ArnPattern::Segments(templates) => match segments {
                Some(segments) => templates
                    .iter()
                    .zip(segments.iter())
                    .all(|(t, s)| t.resolve(ctx).is_some_and(|g| g.matches(s))),
                None => false,
            },
        }
    }
}

fn push_lit(segments: &mut [Vec<TemplatePiece>], text: &str) {
    if let Some(last) = segments.last_mut() {
        last.push(TemplatePiece::Glob(Piece::Lit(text.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, arn: &str) -> bool {
        let ctx = Context::from_pairs([("aws:username", "alice")]);
        let p = ArnPattern::parse(pattern, true).unwrap();
        p.matches(arn, split_arn(arn).as_ref(), &ctx)
    }

    #[test]
    fn the_shortcut_without_variables_compiles_as_the_general_path() {
        for p in [
            "",
            "arn",
            "a:b:c",
            "arn:aws:s3:::bucket",
            "arn:aws:s3:::bucket/*",
            "arn:aws:s3:::*",
            "arn:aws:s3:::b?cket/pre*/x*y",
            "arn:*:*:*:*:*",
            "arn:aws:iam::111122223333:user/a:b:c",
            "arn:aws:sqs:us-east-1:111122223333:queue-?",
            "arn:aws:s3:::bucket/${aws:username}/*",
            "arn:aws:s3:::bucket/$*",
            "::::::",
            "*:*",
            "arn:aws:s3:::é*ü?x",
            "**",
            "a**",
        ] {
            assert_eq!(
                ArnPattern::without_variables(p),
                ArnPattern::templated(p, false).expect(p),
                "{p}"
            );
        }
    }

    #[test]
    fn segments() {
        assert!(m(
            "arn:aws:s3:::reports/*",
            "arn:aws:s3:::reports/2026/q1.csv"
        ));
        assert!(!m("arn:aws:s3:::reports/*", "arn:aws:s3:::reports"));
        assert!(m(
            "arn:aws:dynamodb:*:1:table/t",
            "arn:aws:dynamodb:eu-west-1:1:table/t"
        ));
        assert!(!m(
            "arn:aws:dynamodb:*:1:table/t",
            "arn:aws:dynamodb:eu:west:1:table/t"
        ));
        // `*` in the region segment does not cross a colon.
        assert!(!m("arn:aws:sns:*:1:a", "arn:aws:sns:x:y:1:a"));
        // After the fifth colon, `*` crosses `:` and `/`.
        assert!(m("arn:aws:logs:r:1:*", "arn:aws:logs:r:1:log-group:g:*"));
        assert!(m(
            "arn:aws:s3:::home/${aws:username}/*",
            "arn:aws:s3:::home/alice/x"
        ));
        assert!(!m(
            "arn:aws:s3:::home/${aws:username}/*",
            "arn:aws:s3:::home/bob/x"
        ));
        assert!(m("*", "anything"));
        // Case-sensitive, no normalisation.
        assert!(!m("arn:aws:s3:::Reports/*", "arn:aws:s3:::reports/x"));
        assert!(!m("arn:aws:s3:::a/b", "arn:aws:s3:::a//b"));
    }
}
