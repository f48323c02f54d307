//! Text in the XML documents the gateway writes (S3 and STS errors, the local store's responses).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes text for element content or an attribute value. The five markup characters are
/// escaped by quick-xml; the C0 control characters XML 1.0 cannot carry as they are (all but tab
/// and line feed; a raw carriage return would be read back as a line feed) become character
/// references, as S3 writes them (`&#13;`), so that lenient readers get the text back.
/// Borrowed when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(text);
    if !escaped.bytes().any(needs_reference) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        if c.is_ascii() && needs_reference(c as u8) {
            // Writing to a String cannot fail.
            let _ = write!(out, "&#{};", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_reference(b: u8) -> bool {
    b < 0x20 && b != b'\t' && b != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("a\rb\u{1}c\u{1f}"), "a&#13;b&#1;c&#31;");
        assert_eq!(escape("tab\tline\nend é 日"), "tab\tline\nend é 日");
    }

    #[test]
    fn borrows_plain_text() {
        assert!(matches!(escape("plain/key-1.txt"), Cow::Borrowed(_)));
        assert!(matches!(escape("a&b"), Cow::Owned(_)));
    }

    #[test]
    fn what_quick_xml_reads_back() {
        let text = "k<&>\"'\r\u{7}\t\n";
        let doc = format!("<K>{}</K>", escape(text));
        let mut reader = quick_xml::Reader::from_str(&doc);
        let mut read = String::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Text(t) => read.push_str(&t.decode().unwrap()),
                quick_xml::events::Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                    Some(c) => read.push(c),
                    None => read.push_str(
                        quick_xml::escape::resolve_predefined_entity(&r.decode().unwrap()).unwrap(),
                    ),
                },
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(read, text);
    }
}
