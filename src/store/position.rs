//! Where a value sits in a JSON text, so that a problem found after parsing can still be
//! reported with its line and column.
//!
//! serde_json forgets positions once a document is a `Value`; rather than carry spans through
//! every type, a problem's path (`UserDetailList[1].UserPolicyList[0].PolicyDocument`) is
//! looked up again in the text, which has already been proved to be valid JSON.

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// A list element, from 0.
    Index(usize),
}

impl Step {
    /// A member step.
    pub fn key(k: &str) -> Step {
        Step::Key(k.to_owned())
    }
}

/// Renders a path as `a[1].b`.
pub fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The 1-based line and column of the value at `path` in `text`, or of the deepest part of
/// the path that exists. An index into something that is not a list (a single statement
/// object in place of a list) stays on that value, as AWS reads a lone statement as a list of one.
pub fn locate(text: &str, path: &[Step]) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, 0);
    for step in path {
        match (step, bytes.get(at)) {
            (Step::Key(key), Some(b'{')) => match find_member(bytes, at, key) {
                Some(value_at) => at = value_at,
                None => break,
            },
            (Step::Index(i), Some(b'[')) => match find_element(bytes, at, *i) {
                Some(value_at) => at = value_at,
                None => break,
            },
            (Step::Index(0), _) => {}
            _ => break,
        }
    }
    line_col(text, at)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The index just past the string that starts at `i` (on its opening quote).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index just past the value that starts at `i`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            j
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                j += 1;
            }
            j
        }
    }
}

fn find_member(b: &[u8], open: usize, key: &str) -> Option<usize> {
    let mut i = skip_ws(b, open + 1);
    while i < b.len() && b[i] == b'"' {
        let end = skip_string(b, i);
        let name: Option<String> = serde_json::from_slice(&b[i..end]).ok();
        i = skip_ws(b, end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if name.as_deref() == Some(key) {
            return Some(i);
        }
        i = skip_ws(b, skip_value(b, i));
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    None
}

fn find_element(b: &[u8], open: usize, index: usize) -> Option<usize> {
    let mut i = skip_ws(b, open + 1);
    let mut n = 0;
    while i < b.len() && b[i] != b']' {
        if n == index {
            return Some(i);
        }
        i = skip_ws(b, skip_value(b, i));
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        n += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text =
            "{\n  \"A\": [\n    {\"b\": 1},\n    {\"c\": \"x\\\"]\", \"d\": {\"e\": true}}\n  ]\n}";
        let path = [
            Step::key("A"),
            Step::Index(1),
            Step::key("d"),
            Step::key("e"),
        ];
        assert_eq!(locate(text, &path), (4, 30));
        assert_eq!(locate(text, &[Step::key("A"), Step::Index(0)]), (3, 5));
        // Missing parts stop at the deepest value found.
        assert_eq!(locate(text, &[Step::key("A"), Step::Index(9)]), (2, 8));
        assert_eq!(display(&path), "A[1].d.e");
    }

    #[test]
    fn lone_object_stands_for_a_list_of_one() {
        let text = r#"{"Statement": {"Effect": "Maybe"}}"#;
        let path = [Step::key("Statement"), Step::Index(0), Step::key("Effect")];
        assert_eq!(locate(text, &path), (1, 26));
    }
}
