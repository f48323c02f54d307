//! The DeleteObjects request body: `<Delete><Object><Key>…</Key><VersionId>…</VersionId></Object>…
//! <Quiet>true</Quiet></Delete>`.

use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::s3::{DeleteRequest, ObjectId, MAX_DELETE_OBJECTS, MAX_KEY_BYTES};
use super::RouteError;

fn malformed(message: impl Into<String>) -> RouteError {
    RouteError::MalformedXml(message.into())
}

/// Where the parser is in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the root element.
    Prolog,
    /// Inside `<Delete>`.
    Delete,
    /// Inside `<Object>`.
    Object,
    /// Inside a text element (`Key`, `VersionId`, `Quiet`, ignored `Object` children).
    Field(Field),
    /// After `</Delete>`.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Key,
    VersionId,
    Quiet,
    Ignored,
}

fn resolve_ref(reference: &BytesRef<'_>) -> Result<String, RouteError> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| malformed(format!("bad character reference: {e}")))?
    {
        return Ok(c.to_string());
    }
    let name = reference
        .decode()
        .map_err(|e| malformed(format!("bad entity reference: {e}")))?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_owned)
        .ok_or_else(|| malformed(format!("unknown entity &{name};")))
}

/// Parses a DeleteObjects body. Entities (the five predefined ones and character references) are
/// decoded; a DOCTYPE, unknown elements, a missing or repeated `Key`, an empty list or more than
/// 1000 objects are refused as `MalformedXML`.
pub(crate) fn parse_delete(body: &[u8]) -> Result<DeleteRequest, RouteError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = true;

    let mut objects: Vec<ObjectId> = Vec::new();
    let mut place = Place::Prolog;
    let mut text = String::new();
    let mut key: Option<String> = None;
    let mut version_id: Option<String> = None;
    let mut quiet: Option<bool> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                let local = start.local_name();
                let name = local.as_ref();
                place = match (place, name) {
                    (Place::Prolog, b"Delete") => Place::Delete,
                    (Place::Delete, b"Object") => {
                        if objects.len() >= MAX_DELETE_OBJECTS {
                            return Err(malformed(format!(
                                "more than {MAX_DELETE_OBJECTS} objects"
                            )));
                        }
                        key = None;
                        version_id = None;
                        Place::Object
                    }
                    (Place::Delete, b"Quiet") => {
                        if quiet.is_some() {
                            return Err(malformed("Quiet given twice"));
                        }
                        text.clear();
                        Place::Field(Field::Quiet)
                    }
                    (Place::Object, b"Key") => {
                        if key.is_some() {
                            return Err(malformed("an Object has two Keys"));
                        }
                        text.clear();
                        Place::Field(Field::Key)
                    }
                    (Place::Object, b"VersionId") => {
                        if version_id.is_some() {
                            return Err(malformed("an Object has two VersionIds"));
                        }
                        text.clear();
                        Place::Field(Field::VersionId)
                    }
                    (Place::Object, b"ETag" | b"LastModifiedTime" | b"Size") => {
                        text.clear();
                        Place::Field(Field::Ignored)
                    }
                    (_, other) => {
                        return Err(malformed(format!(
                            "unexpected element <{}>",
                            String::from_utf8_lossy(other)
                        )))
                    }
                };
            }
            Event::End(_) => {
                place = match place {
                    Place::Field(field) => {
                        let value = std::mem::take(&mut text);
                        match field {
                            Field::Key => {
                                if value.is_empty() {
                                    return Err(malformed("an Object has an empty Key"));
                                }
                                if value.len() > MAX_KEY_BYTES {
                                    return Err(malformed("a Key is longer than 1024 bytes"));
                                }
                                key = Some(value);
                            }
                            Field::VersionId => version_id = Some(value),
                            Field::Quiet => {
                                quiet = Some(match value.trim() {
                                    "true" => true,
                                    "false" => false,
                                    _ => return Err(malformed("Quiet must be true or false")),
                                });
                            }
                            Field::Ignored => {}
                        }
                        if field == Field::Quiet {
                            Place::Delete
                        } else {
                            Place::Object
                        }
                    }
                    Place::Object => {
                        let key = key
                            .take()
                            .ok_or_else(|| malformed("an Object has no Key"))?;
                        objects.push(ObjectId {
                            key,
                            version_id: version_id.take(),
                        });
                        Place::Delete
                    }
                    Place::Delete => Place::Done,
                    Place::Prolog | Place::Done => return Err(malformed("unexpected end tag")),
                };
            }
            Event::Text(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| malformed(format!("bad text: {e}")))?;
                if let Place::Field(_) = place {
                    text.push_str(&content);
                } else if !content.trim().is_empty() {
                    return Err(malformed("text outside of an element"));
                }
            }
            Event::CData(c) => {
                if let Place::Field(_) = place {
                    let content = c
                        .decode()
                        .map_err(|e| malformed(format!("bad CDATA: {e}")))?;
                    text.push_str(&content);
                } else {
                    return Err(malformed("CDATA outside of an element"));
                }
            }
            Event::GeneralRef(reference) => {
                if let Place::Field(_) = place {
                    text.push_str(&resolve_ref(&reference)?);
                } else {
                    return Err(malformed("entity reference outside of an element"));
                }
            }
            Event::Empty(_) => return Err(malformed("unexpected empty element")),
            Event::DocType(_) => return Err(malformed("a DOCTYPE is not accepted")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if place != Place::Done {
        return Err(malformed("the document ends before </Delete>"));
    }
    if objects.is_empty() {
        return Err(malformed("no Object to delete"));
    }
    Ok(DeleteRequest {
        objects,
        quiet: quiet.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::s3::parse_delete_objects;

    #[test]
    fn parses_delete_with_entities() {
        let body = br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b&#x41;</Key></Object><Object><Key>c</Key><VersionId>x</VersionId></Object></Delete>"#;
        let DeleteRequest {
            quiet,
            objects: entries,
        } = parse_delete(body).unwrap();
        assert!(quiet);
        assert_eq!(entries[0].key, "a&bA");
        assert_eq!(entries[1].key, "c");
        assert!(parse_delete(b"<Delete><Object>").is_err());
        assert!(parse_delete(b"<Other/>").is_err());
    }

    #[test]
    fn reads_the_quiet_flag() {
        let quiet = |body: &[u8]| parse_delete(body).unwrap().quiet;
        assert!(!quiet(b"<Delete><Object><Key>a</Key></Object></Delete>"));
        assert!(quiet(
            b"<Delete><Quiet> true </Quiet><Object><Key>a</Key></Object></Delete>"
        ));
        assert!(!quiet(
            b"<Delete><Object><Key>a</Key></Object><Quiet>false</Quiet></Delete>"
        ));
        assert!(matches!(
            parse_delete(b"<Delete><Quiet>TRUE</Quiet><Object><Key>a</Key></Object></Delete>"),
            Err(RouteError::MalformedXml(_))
        ));
    }

    #[test]
    fn parses_keys_versions_and_entities() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a &amp; b&#x2F;&lt;c&gt;</Key></Object>
  <Object><Key>d</Key><VersionId>v1</VersionId></Object>
  <Object><Key><![CDATA[e<f]]></Key><ETag>"x"</ETag></Object>
  <Quiet>true</Quiet>
</Delete>"#;
        let objects = parse_delete_objects(body).unwrap();
        assert_eq!(
            objects,
            vec![
                ObjectId {
                    key: "a & b/<c>".into(),
                    version_id: None
                },
                ObjectId {
                    key: "d".into(),
                    version_id: Some("v1".into())
                },
                ObjectId {
                    key: "e<f".into(),
                    version_id: None
                },
            ]
        );
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cases: &[&[u8]] = &[
            b"",
            b"<Delete></Delete>",
            b"<Delete><Object></Object></Delete>",
            b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object>",
            b"<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
            b"<Delete><Object><Key>a</Key><Other/></Object></Delete>",
            b"<Remove><Object><Key>a</Key></Object></Remove>",
            b"<Delete><Object><Key>&foo;</Key></Object></Delete>",
            b"<!DOCTYPE x [<!ENTITY foo \"bar\">]><Delete><Object><Key>&foo;</Key></Object></Delete>",
            b"<Delete><Object><Key>a</Wrong></Object></Delete>",
            b"<Delete><Object><Key></Key></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
            b"<Delete><Object><Key>\xff</Key></Object></Delete>",
        ];
        for body in cases {
            assert!(
                matches!(parse_delete_objects(body), Err(RouteError::MalformedXml(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn limits_the_object_count() {
        let mut body = String::from("<Delete>");
        for i in 0..1000 {
            body.push_str(&format!("<Object><Key>k{i}</Key></Object>"));
        }
        let ok = format!("{body}</Delete>");
        assert_eq!(parse_delete_objects(ok.as_bytes()).unwrap().len(), 1000);
        let too_many = format!("{body}<Object><Key>x</Key></Object></Delete>");
        assert!(matches!(
            parse_delete_objects(too_many.as_bytes()),
            Err(RouteError::MalformedXml(_))
        ));
    }
}
