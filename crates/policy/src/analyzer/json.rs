//! A JSON reader that keeps where every value is, and names the mistake in text that is not
//! JSON.
//!
//! serde_json reads the store and the policies; it forgets positions, and for broken text it
//! reports where it noticed the problem (the `}` after a trailing comma) in its own terms. This
//! reader is used twice: to locate what the validator finds (Access Analyzer reports a span for
//! each finding), and, once serde_json has refused a text, to say what is wrong and point at
//! the character at fault.

use std::fmt;

/// How deep lists and objects may nest: policies need a handful of levels.
const MAX_DEPTH: usize = 128;

/// A value and the bytes it spans in the text (`end` exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: Kind,
    /// Where it starts (its first byte).
    pub start: usize,
    /// Where it ends (just past its last byte).
    pub end: usize,
}

/// A JSON value, members kept in the text's order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// A list.
    Array(Vec<Node>),
    /// An object.
    Object(Vec<Member>),
}

/// An object member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Where the key (with its quotes) starts.
    pub key_start: usize,
    /// Where the key ends.
    pub key_end: usize,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn members(&self) -> Option<&[Member]> {
        match &self.kind {
            Kind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The first member named `key`, if this is an object.
    pub fn get(&self, key: &str) -> Option<&Member> {
        self.members()?.iter().find(|m| m.key == key)
    }

    /// The JSON type's name, as Access Analyzer and people call it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "Boolean",
            Kind::Number(_) => "Number",
            Kind::String(_) => "String",
            Kind::Array(_) => "Array",
            Kind::Object(_) => "Object",
        }
    }
}

/// Text that is not JSON: what is wrong, and the byte at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The byte offset of the character at fault.
    pub offset: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads `text` as one JSON value.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        b: text.as_bytes(),
        text,
        i: 0,
    };
    p.skip_ws()?;
    if p.i >= p.b.len() {
        return Err(p.err(p.i, "the text is empty: a JSON value was expected"));
    }
    let node = p.value(0)?;
    p.skip_ws()?;
    if p.i < p.b.len() {
        let what = if p.b[p.i] == b',' {
            "a comma after the end of the document"
        } else {
            "more text after the end of the document (one JSON value per file)"
        };
        return Err(p.err(p.i, what));
    }
    Ok(node)
}

/// Line, column and character offset of each byte position of a text.
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of each line's start.
    line_starts: Vec<usize>,
    /// Characters before each line's start.
    line_chars: Vec<usize>,
}

/// A position as Access Analyzer reports it: line from 1, column and offset (in characters)
/// from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 0.
    pub column: usize,
    /// Characters before the position.
    pub offset: usize,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        let mut line_chars = Vec::with_capacity(line_starts.len());
        let mut chars = 0;
        for (i, &start) in line_starts.iter().enumerate() {
            if i > 0 {
                chars += text[line_starts[i - 1]..start].chars().count();
            }
            line_chars.push(chars);
        }
        LineIndex {
            text,
            line_starts,
            line_chars,
        }
    }

    /// The position of byte `at` (clamped to the text; moved back to a character boundary).
    pub fn position(&self, at: usize) -> Position {
        let mut at = at.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line - 1];
        let column = self.text[start..at].chars().count();
        let offset = self.line_chars[line - 1] + column;
        Position {
            line,
            column,
            offset,
        }
    }
}

/// For text that serde_json refused: the line and column (both from 1) of the character at
/// fault and what is wrong, in the words the store and the simulators both use. `None` when the
/// text is JSON (serde_json refused it for its shape, not its syntax).
pub fn describe_syntax_error(text: &str) -> Option<(usize, usize, String)> {
    let e = parse(text).err()?;
    let p = LineIndex::new(text).position(e.offset);
    Some((
        p.line,
        p.column + 1,
        format!("not valid JSON: {}", e.message),
    ))
}

/// serde_json's message without the " at line L column C" it appends (the caller places it).
pub fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

struct Parser<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: at,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => self.i += 1,
                b'/' if matches!(self.b.get(self.i + 1), Some(b'/') | Some(b'*')) => {
                    return Err(self.err(self.i, "comments are not allowed in JSON"))
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// The character at `at`, for messages.
    fn shown(&self, at: usize) -> String {
        match self.text.get(at..).and_then(|s| s.chars().next()) {
            Some(c) if c.is_control() => format!("{c:?}"),
            Some(c) => format!("'{c}'"),
            None => "the end of the file".to_owned(),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err(self.i, "lists and objects nest too deeply"));
        }
        let start = self.i;
        let kind = match self.b.get(self.i) {
            None => return Err(self.err(self.i, "the file ends where a value was expected")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b'\'') => {
                return Err(self.err(
                    self.i,
                    "strings are written in double quotes (\"), not single quotes",
                ))
            }
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Kind::Bool(true)
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Kind::Bool(false)
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Kind::Null
            }
            Some(b',') => return Err(self.err(self.i, "a value is missing before this comma")),
            Some(b']' | b'}') => {
                return Err(self.err(
                    self.i,
                    format!("a value was expected, not {}", self.shown(self.i)),
                ))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let word_end = self.b[self.i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric() && *c != b'_')
                    .map_or(self.b.len(), |n| self.i + n);
                let word = &self.text[self.i..word_end];
                return Err(self.err(
                    self.i,
                    format!(
                        "{word} is not a JSON value (strings are written in double quotes; the literals are true, false and null)"
                    ),
                ));
            }
            Some(_) => {
                return Err(self.err(
                    self.i,
                    format!("a value was expected, not {}", self.shown(self.i)),
                ))
            }
        };
        Ok(Node {
            kind,
            start,
            end: self.i,
        })
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        let open = self.i;
        let mut members = Vec::new();
        if self.open_container(b'}')? {
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws()?;
            let key_start = self.i;
            match self.b.get(self.i) {
                Some(b'"') => {}
                None => return Err(self.unclosed(open, '}')),
                Some(b'\'') => {
                    return Err(self.err(
                        self.i,
                        "keys are written in double quotes (\"), not single quotes",
                    ))
                }
                Some(b'}') => {
                    // Only reached after a comma: `{"a": 1,}`.
                    return Err(self.trailing_comma(key_start, "member of an object"));
                }
                Some(_) => {
                    return Err(self.err(
                        self.i,
                        format!(
                            "a key in double quotes was expected, not {}",
                            self.shown(self.i)
                        ),
                    ))
                }
            }
            let key = self.string()?;
            let key_end = self.i;
            self.skip_ws()?;
            match self.b.get(self.i) {
                Some(b':') => self.i += 1,
                None => return Err(self.unclosed(open, '}')),
                Some(_) => {
                    return Err(self.err(
                        self.i,
                        format!(
                            "a ':' was expected after the key \"{key}\", not {}",
                            self.shown(self.i)
                        ),
                    ))
                }
            }
            self.skip_ws()?;
            if self.i >= self.b.len() {
                return Err(self.unclosed(open, '}'));
            }
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                key_start,
                key_end,
                value,
            });
            self.skip_ws()?;
            if !self.after_item(open, b'}')? {
                return Ok(Kind::Object(members));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        let open = self.i;
        let mut items = Vec::new();
        if self.open_container(b']')? {
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_ws()?;
            match self.b.get(self.i) {
                None => return Err(self.unclosed(open, ']')),
                Some(b']') => return Err(self.trailing_comma(self.i, "element of a list")),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws()?;
            if !self.after_item(open, b']')? {
                return Ok(Kind::Array(items));
            }
        }
    }

    /// Steps over the opening bracket; true when `close` follows at once (an empty container),
    /// which is then stepped over too.
    fn open_container(&mut self, close: u8) -> Result<bool, SyntaxError> {
        self.i += 1;
        self.skip_ws()?;
        let empty = self.b.get(self.i) == Some(&close);
        if empty {
            self.i += 1;
        }
        Ok(empty)
    }

    /// After a member of an object (`close` is `}`) or an element of a list (`]`): true when a
    /// comma announces another, false when `close` ends the container; anything else is an
    /// error.
    fn after_item(&mut self, open: usize, close: u8) -> Result<bool, SyntaxError> {
        let object = close == b'}';
        let (container, other, item) = if object {
            ("an object", "a list", "member")
        } else {
            ("a list", "an object", "element")
        };
        let c = match self.b.get(self.i) {
            Some(b',') => {
                self.i += 1;
                return Ok(true);
            }
            Some(&c) if c == close => {
                self.i += 1;
                return Ok(false);
            }
            None => return Err(self.unclosed(open, char::from(close))),
            Some(&c) => c,
        };
        let next_item = if object {
            c == b'"'
        } else {
            matches!(
                c,
                b'"' | b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            )
        };
        let message = if matches!(c, b'}' | b']') {
            format!(
                "'{}' closes {other}, but {container} is open here: '{}' was expected",
                char::from(c),
                char::from(close)
            )
        } else if next_item {
            format!("a comma is missing between two {item}s of {container}")
        } else {
            let article = if object { "a" } else { "an" };
            format!(
                "',' or '{}' was expected after {article} {item}, not {}",
                char::from(close),
                self.shown(self.i)
            )
        };
        Err(self.err(self.i, message))
    }

    /// A closing bracket right after a comma: the comma is at fault.
    fn trailing_comma(&self, close: usize, what: &str) -> SyntaxError {
        let comma = self.b[..close]
            .iter()
            .rposition(|&c| c == b',')
            .unwrap_or(close);
        self.err(
            comma,
            format!("trailing comma: a comma after the last {what} (remove it)"),
        )
    }

    fn unclosed(&self, open: usize, close: char) -> SyntaxError {
        let p = LineIndex::new(self.text).position(open);
        let opened = if close == '}' { "object" } else { "list" };
        self.err(
            self.b.len(),
            format!(
                "the file ends inside the {opened} opened at line {}, column {}: '{close}' is missing",
                p.line,
                p.column + 1
            ),
        )
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let run_start = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[run_start..self.i]);
            match self.b.get(self.i) {
                None => {
                    let p = LineIndex::new(self.text).position(open);
                    return Err(self.err(
                        open,
                        format!(
                            "the string that starts at line {}, column {} is never closed (a '\"' is missing)",
                            p.line,
                            p.column + 1
                        ),
                    ));
                }
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\n') => {
                    return Err(self.err(
                        self.i,
                        "a string runs to the end of the line: its closing '\"' is missing (a line break inside a string is written \\n)",
                    ))
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.err(
                        self.i,
                        "a control character inside a string (write a tab as \\t)",
                    ))
                }
                Some(_) => {
                    // A backslash.
                    let at = self.i;
                    let escaped = self.b.get(self.i + 1).copied();
                    self.i += 2;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let c = self.unicode_escape(at)?;
                            out.push(c);
                        }
                        _ => {
                            return Err(self.err(
                                at,
                                "an invalid escape in a string (a backslash is written \\\\)",
                            ))
                        }
                    }
                }
            }
        }
    }

    fn hex4(&mut self, at: usize) -> Result<u32, SyntaxError> {
        let digits = self
            .text
            .get(self.i..self.i + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err(at, "\\u must be followed by four hexadecimal digits"))?;
        self.i += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.err(at, "invalid \\u escape"))
    }

    fn unicode_escape(&mut self, at: usize) -> Result<char, SyntaxError> {
        let first = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                return Err(self.err(at, "a \\u escape of a lone surrogate"));
            }
            self.i += 2;
            let second = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.err(at, "a \\u escape of a lone surrogate"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.err(at, "a \\u escape of a lone surrogate"))
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        let bad = |p: &Self| p.err(start, "an invalid number");
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                    return Err(self.err(start, "a number does not start with 0 (write it as a string to keep a leading zero)"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad(self)),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self));
            }
            self.digits();
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self));
            }
            self.digits();
        }
        Ok(self.text[start..self.i].to_owned())
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(text: &str) -> (usize, usize, String) {
        describe_syntax_error(text).expect("not JSON")
    }

    #[test]
    fn reads_values_with_their_spans() {
        let text = "{\"a\": [1, \"x\\ny\", true, null], \"b\": {}}";
        let node = parse(text).unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(&text[a.key_start..a.key_end], "\"a\"");
        let Kind::Array(items) = &a.value.kind else {
            panic!()
        };
        assert_eq!(items[1].as_str(), Some("x\ny"));
        assert_eq!(&text[items[1].start..items[1].end], "\"x\\ny\"");
        assert_eq!(
            &text[a.value.start..a.value.end],
            "[1, \"x\\ny\", true, null]"
        );
        assert_eq!(parse("\"\\ud83d\\ude00\"").unwrap().as_str(), Some("😀"));
    }

    #[test]
    fn what_may_follow_a_member_or_an_element() {
        let message = |text: &str| parse(text).unwrap_err().message;
        let cases = [
            (
                r#"{"a": 1 "b": 2}"#,
                "a comma is missing between two members of an object",
            ),
            (
                r#"{"a": 1]"#,
                "']' closes a list, but an object is open here: '}' was expected",
            ),
            (
                r#"{"a": 1 x}"#,
                "',' or '}' was expected after a member, not 'x'",
            ),
            ("[1 2]", "a comma is missing between two elements of a list"),
            (
                "[1 {}]",
                "a comma is missing between two elements of a list",
            ),
            (
                "[1}",
                "'}' closes an object, but a list is open here: ']' was expected",
            ),
            ("[1 x]", "',' or ']' was expected after an element, not 'x'"),
        ];
        for (text, expected) in cases {
            assert_eq!(message(text), expected, "{text}");
        }
        assert!(message("[1").contains("']' is missing"));
        assert!(message(r#"{"a": 1"#).contains("'}' is missing"));
        assert!(parse(r#"{"a": [1, {"b": []}], "c": {}}"#).is_ok());
    }

    #[test]
    fn names_the_mistake_at_the_character_at_fault() {
        let (line, column, message) = fault("{\n  \"a\": [1, 2,],\n  \"b\": 1\n}");
        assert_eq!((line, column), (2, 13), "{message}");
        assert!(message.contains("trailing comma"), "{message}");
        let (line, column, message) = fault("{\"a\": 1,\n}");
        assert_eq!((line, column), (1, 8));
        assert!(message.contains("trailing comma"), "{message}");
        let (_, column, message) = fault("{\"a\": 1 \"b\": 2}");
        assert_eq!(column, 9);
        assert!(message.contains("comma is missing"), "{message}");
        let (_, _, message) = fault("{'a': 1}");
        assert!(message.contains("double quotes"), "{message}");
        let (line, column, message) = fault("{\n  \"a\": [1,\n");
        assert!(
            message.contains("list opened at line 2, column 8"),
            "{message}"
        );
        assert_eq!((line, column), (3, 1));
        let (_, column, message) = fault("{\"a\" 1}");
        assert_eq!(column, 6);
        assert!(message.contains("':' was expected"), "{message}");
        let (_, _, message) = fault("{\"a\": True}");
        assert!(message.contains("True is not a JSON value"), "{message}");
        let (_, _, message) = fault("{\"a\": \"x}\n");
        assert!(message.contains("closing '\"' is missing"), "{message}");
        assert!(fault("[1] [2]").2.contains("after the end"));
        assert!(fault("// c\n{}").2.contains("comments"));
        assert!(fault(&"[".repeat(500)).2.contains("nest too deeply"));
        assert_eq!(describe_syntax_error("{\"a\": [1, {}]}"), None);
    }

    proptest::proptest! {
        /// A valid document with one character inserted, replaced or removed: the reader and
        /// serde_json agree on whether it is JSON, and a mistake is placed inside the text.
        #[test]
        fn agrees_with_serde_json_on_what_is_json(
            at in 0usize..200,
            op in 0u8..3,
            c in proptest::sample::select(vec![',', '{', '}', '[', ']', ':', '"', '\'', 'a', '1', '\n', '\\', '-', '.', 'e', ' ']),
        ) {
            let valid = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "A1", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 10.5e1}, "Bool": {"aws:SecureTransport": true}}}]}"#;
            let mut chars: Vec<char> = valid.chars().collect();
            let at = at.min(chars.len() - 1);
            match op {
                0 => chars.insert(at, c),
                1 => chars[at] = c,
                _ => { chars.remove(at); }
            }
            let text: String = chars.into_iter().collect();
            let serde_ok = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            let ours = parse(&text);
            proptest::prop_assert_eq!(ours.is_ok(), serde_ok, "{}", text);
            if let Err(e) = ours {
                proptest::prop_assert!(e.offset <= text.len());
                let (line, column, message) = describe_syntax_error(&text).unwrap();
                proptest::prop_assert!(line >= 1 && column >= 1 && message.starts_with("not valid JSON: "));
            }
        }
    }

    #[test]
    fn positions_count_characters() {
        let text = "{\"é\":\n  \"x\"}";
        let index = LineIndex::new(text);
        let x = text.find("\"x\"").unwrap();
        assert_eq!(
            index.position(x),
            Position {
                line: 2,
                column: 2,
                offset: 8
            }
        );
    }
}
