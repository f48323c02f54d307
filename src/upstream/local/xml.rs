//! XML: a tiny writer with proper escaping for responses, and a quick-xml parser for the
//! CompleteMultipartUpload body (DeleteObjects' is the S3 model's, `route::s3::parse_delete`).

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::{Result, StoreError};
use crate::xml::escape;

/// The S3 namespace of every response document.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// A response document under construction.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// Starts a document whose root element carries the S3 namespace.
    pub fn new(root: &str) -> XmlWriter {
        XmlWriter {
            buf: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\">"),
        }
    }

    /// Starts a document whose root element has no namespace (error documents).
    pub fn plain(root: &str) -> XmlWriter {
        XmlWriter {
            buf: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>"),
        }
    }

    /// Opens an element.
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Closes an element.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Writes `<tag>escaped text</tag>`.
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text));
        self.close(tag)
    }

    /// Finishes the document by closing the root.
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.buf
    }
}

/// A parsed element tree, enough for the small request documents S3 defines.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn local(name: &[u8]) -> Result<String> {
    let name = match name.iter().rposition(|c| *c == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8(name.to_vec()).map_err(|_| StoreError::malformed_xml())
}

/// Parses a whole (size-limited) document into a tree.
fn parse_tree(body: &[u8]) -> Result<Node> {
    let text = std::str::from_utf8(body).map_err(|_| StoreError::malformed_xml())?;
    let mut reader = Reader::from_str(text);
    // `<a/>` as `<a></a>`: one way for an element to end.
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Node> = vec![Node::default()];
    let bad = |_| StoreError::malformed_xml();
    loop {
        match reader.read_event().map_err(bad)? {
            Event::Start(e) => {
                if stack.len() > 16 {
                    return Err(StoreError::malformed_xml());
                }
                stack.push(Node {
                    name: local(e.name().as_ref())?,
                    ..Node::default()
                });
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(StoreError::malformed_xml)?;
                stack
                    .last_mut()
                    .ok_or_else(StoreError::malformed_xml)?
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|_| StoreError::malformed_xml())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|_| StoreError::malformed_xml())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|_| StoreError::malformed_xml())?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|_| StoreError::malformed_xml())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(StoreError::malformed_xml)?
                            .to_string()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::DocType(_) => return Err(StoreError::malformed_xml()),
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(StoreError::malformed_xml());
    }
    let mut top = stack.pop().ok_or_else(StoreError::malformed_xml)?;
    if top.children.len() != 1 {
        return Err(StoreError::malformed_xml());
    }
    top.children.pop().ok_or_else(StoreError::malformed_xml)
}

/// Parses `<CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>..</ETag></Part>..`.
pub fn parse_complete(body: &[u8]) -> Result<Vec<(u32, String)>> {
    let root = parse_tree(body)?;
    if root.name != "CompleteMultipartUpload" {
        return Err(StoreError::malformed_xml());
    }
    let mut out = Vec::new();
    for part in root.children.iter().filter(|c| c.name == "Part") {
        let number = part
            .child("PartNumber")
            .and_then(|n| n.text.trim().parse::<u32>().ok())
            .ok_or_else(StoreError::malformed_xml)?;
        let etag = part
            .child("ETag")
            .map(|e| e.text.trim().to_string())
            .ok_or_else(StoreError::malformed_xml)?;
        out.push((number, etag));
    }
    if out.is_empty() {
        return Err(StoreError::malformed_xml());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed() {
        assert!(parse_complete(b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>").is_err());
    }

    #[test]
    fn parses_complete() {
        let parts = parse_complete(b"<CompleteMultipartUpload><Part><ETag>\"abc\"</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber><ETag>&quot;def&quot;</ETag></Part></CompleteMultipartUpload>").unwrap();
        assert_eq!(
            parts,
            vec![(1, "\"abc\"".to_string()), (2, "\"def\"".to_string())]
        );
    }
}
