//! CPIM message wrapping (RFC 3862) with the IMDN headers of RFC 5438 (pure, never panics).
//!
//! ```text
//! From: <sip:alice@example.com>
//! To: <sip:bob@example.com>
//! DateTime: 2024-01-01T00:00:00Z
//! NS: imdn <urn:ietf:params:imdn>
//! imdn.Message-ID: abc
//! imdn.Disposition-Notification: positive-delivery, display
//!
//! Content-Type: text/plain
//!
//! hello
//! ```

/// Content type of a CPIM-wrapped message.
pub const CPIM: &str = "message/cpim";
/// Content type of an IMDN report.
pub const IMDN: &str = "message/imdn+xml";

/// What goes into a CPIM message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimOut<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub timestamp: &'a str,
    pub message_id: &'a str,
    pub content_type: &'a str,
    pub content: &'a str,
}

/// A parsed CPIM message (or a plain body taken as one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpimMessage {
    /// The `From` header value as it came (`"Name" <sip:...>`), if any.
    pub from: Option<String>,
    pub to: Option<String>,
    pub timestamp: Option<String>,
    pub message_id: Option<String>,
    /// `imdn.Disposition-Notification`, split at commas, if present.
    pub disposition_notification: Option<Vec<String>>,
    pub content_type: String,
    pub content: String,
}

/// Removes CR and LF from a header value (no header injection).
fn safe(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// The angle-bracketed form of a URI (`<sip:x>`); kept as is when already bracketed.
fn bracketed(uri: &str) -> String {
    let uri = safe(uri.trim());
    if uri.contains('<') {
        uri
    } else {
        format!("<{uri}>")
    }
}

/// Builds a CPIM message that asks for delivery and display notifications.
pub fn build(m: &CpimOut<'_>) -> String {
    build_with(m, Some("positive-delivery, display"))
}

/// Builds a CPIM message with the given `imdn.Disposition-Notification` (none for a report).
pub fn build_with(m: &CpimOut<'_>, disposition: Option<&str>) -> String {
    let disposition = disposition
        .map(|d| format!("imdn.Disposition-Notification: {}\r\n", safe(d)))
        .unwrap_or_default();
    format!(
        "From: {}\r\nTo: {}\r\nDateTime: {}\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
         imdn.Message-ID: {}\r\n{disposition}\
         \r\nContent-Type: {}\r\n\r\n{}",
        bracketed(m.from),
        bracketed(m.to),
        safe(m.timestamp),
        safe(m.message_id),
        safe(m.content_type),
        m.content
    )
}

/// XML text escaping (`&`, `<`, `>`, `"`, `'`).
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An IMDN report (RFC 5438) about `message_id` (sent at `datetime`): `delivered` as a
/// delivery notification, `displayed` / `error` (and anything else) as a display notification.
pub fn build_imdn(message_id: &str, datetime: &str, status: &str) -> String {
    let kind = if status == "delivered" {
        "delivery-notification"
    } else {
        "display-notification"
    };
    let status: String = status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n\
         <message-id>{}</message-id>\r\n\
         <datetime>{}</datetime>\r\n\
         <{kind}><status><{status}/></status></{kind}>\r\n\
         </imdn>",
        xml_escape(message_id),
        xml_escape(datetime),
    )
}

/// Splits a header block from the rest at the first empty line (CRLF or LF).
fn split_block(text: &str) -> (&str, &str) {
    let crlf = text.find("\r\n\r\n").map(|i| (i, 4));
    let lf = text.find("\n\n").map(|i| (i, 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((i, n)) => (&text[..i], &text[i + n..]),
        None => (text, ""),
    }
}

fn headers(block: &str) -> impl Iterator<Item = (&str, &str)> {
    block.lines().filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        Some((name.trim(), value.trim()))
    })
}

/// Parses a CPIM message; `None` when it has no message headers or no content part.
pub fn parse(text: &str) -> Option<CpimMessage> {
    let (outer, rest) = split_block(text);
    if rest.is_empty() && !text.contains("\n\n") && !text.contains("\r\n\r\n") {
        return None;
    }
    let mut m = CpimMessage::default();
    let mut imdn_prefix = "imdn".to_string();
    for (name, value) in headers(outer) {
        if name.eq_ignore_ascii_case("NS") {
            if let Some((prefix, urn)) = value.split_once('<') {
                if urn.trim_end_matches('>').trim() == "urn:ietf:params:imdn" {
                    imdn_prefix = prefix.trim().to_string();
                }
            }
        }
    }
    for (name, value) in headers(outer) {
        if name.eq_ignore_ascii_case("From") {
            m.from = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("To") {
            m.to = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("DateTime") {
            m.timestamp = Some(value.to_string());
        } else if let Some((prefix, local)) = name.split_once('.') {
            if !prefix.eq_ignore_ascii_case(&imdn_prefix) {
                continue;
            }
            if local.eq_ignore_ascii_case("Message-ID") {
                m.message_id = Some(value.to_string());
            } else if local.eq_ignore_ascii_case("Disposition-Notification") {
                m.disposition_notification = Some(
                    value
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
            }
        }
    }
    let (inner, content) = split_block(rest);
    let content_type = headers(inner)
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
        .map(|(_, v)| v.to_string())?;
    m.content_type = content_type;
    m.content = content.to_string();
    Some(m)
}

/// The bare media type of a Content-Type value (`text/plain;charset=utf-8` -> `text/plain`).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// An IMDN report: the message it is about and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imdn {
    pub message_id: String,
    /// `delivered`, `displayed`, `failed`, ... (the status element's child name).
    pub status: String,
}

/// The text between `<tag ...>` and `</tag>` (any namespace prefix), if any.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = xml.get(from..)?.find('<') {
        let start = from + i + 1;
        let rest = xml.get(start..)?;
        let name_end = rest.find(|c: char| c == '>' || c == '/' || c.is_whitespace())?;
        let name = &rest[..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == tag && !name.is_empty() {
            let open_end = start + rest.find('>')? + 1;
            let close = format!("</{name}>");
            let end = xml.get(open_end..)?.find(&close)? + open_end;
            return xml.get(open_end..end);
        }
        from = start;
    }
    None
}

/// Parses an IMDN XML report (`message-id` and the first child of `status` inside
/// `delivery-notification` or `display-notification`).
pub fn parse_imdn(xml: &str) -> Option<Imdn> {
    let message_id = element(xml, "message-id")?.trim().to_string();
    if message_id.is_empty() {
        return None;
    }
    let status = element(xml, "status")?;
    let start = status.find('<')? + 1;
    let rest = status.get(start..)?;
    let end = rest.find(|c: char| c == '>' || c == '/' || c.is_whitespace())?;
    let name = &rest[..end];
    let name = name.rsplit(':').next().unwrap_or(name).to_string();
    if name.is_empty() {
        return None;
    }
    Some(Imdn {
        message_id,
        status: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse() {
        let text = build(&CpimOut {
            from: "sip:alice@example.com",
            to: "sip:bob@example.com",
            timestamp: "2024-01-01T00:00:00Z",
            message_id: "m1\r\nX: y",
            content_type: "text/plain",
            content: "hello\r\n\r\nworld",
        });
        assert!(text.starts_with("From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n"));
        assert!(text.contains("NS: imdn <urn:ietf:params:imdn>\r\n"));
        assert!(text.contains("imdn.Disposition-Notification: positive-delivery, display\r\n"));
        let m = parse(&text).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("m1  X: y"));
        assert_eq!(m.timestamp.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(m.from.as_deref(), Some("<sip:alice@example.com>"));
        assert_eq!(
            m.disposition_notification,
            Some(vec!["positive-delivery".into(), "display".into()])
        );
        assert_eq!(m.content_type, "text/plain");
        assert_eq!(m.content, "hello\r\n\r\nworld");
    }

    #[test]
    fn other_prefix_and_lf() {
        let m = parse(
            "From: \"A\" <sip:a@b>\nNS: x <urn:ietf:params:imdn>\nx.Message-ID: 42\n\n\
             Content-Type: text/html\n\n<b>hi</b>",
        )
        .unwrap();
        assert_eq!(m.message_id.as_deref(), Some("42"));
        assert_eq!(m.disposition_notification, None);
        assert_eq!(m.content, "<b>hi</b>");
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "\r\n\r\n",
            "hello",
            "a:b\r\n\r\n",
            "a:b\n\nno type",
            "é:ü\r\n\r\nContent-Type: ü\r\n\r\n",
            "<",
            "<a",
            "<status><",
        ] {
            let _ = parse(text);
            let _ = parse_imdn(text);
            let _ = media_type(text);
        }
        assert_eq!(parse("hello"), None);
        assert_eq!(media_type("Text/Plain; charset=utf-8"), "text/plain");
    }

    #[test]
    fn imdn_built_then_parsed() {
        let xml = build_imdn("a<b&c", "2026-01-01T00:00:00Z", "displayed");
        assert!(
            xml.contains("<message-id>a&lt;b&amp;c</message-id>"),
            "{xml}"
        );
        assert!(
            xml.contains("<display-notification><status><displayed/>"),
            "{xml}"
        );
        let parsed = parse_imdn(&xml).unwrap();
        assert_eq!(parsed.status, "displayed");
        let xml = build_imdn("m1", "now", "delivered");
        assert!(xml.contains("<delivery-notification>"), "{xml}");
        assert_eq!(parse_imdn(&xml).unwrap().message_id, "m1");
        let report = build_with(
            &CpimOut {
                from: "sip:a@x",
                to: "sip:b@x",
                timestamp: "t",
                message_id: "r1",
                content_type: IMDN,
                content: &xml,
            },
            None,
        );
        assert!(!report.contains("Disposition-Notification"), "{report}");
        let m = parse(&report).unwrap();
        assert_eq!(m.content_type, IMDN);
        assert_eq!(m.disposition_notification, None);
    }

    #[test]
    fn imdn_reports() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <display-notification><status><displayed/></status></display-notification>
</imdn>"#;
        assert_eq!(
            parse_imdn(xml),
            Some(Imdn {
                message_id: "34jk324j".into(),
                status: "displayed".into()
            })
        );
        let xml = "<i:imdn><i:message-id>x</i:message-id><i:delivery-notification>\
                   <i:status><i:delivered /></i:status></i:delivery-notification></i:imdn>";
        assert_eq!(parse_imdn(xml).unwrap().status, "delivered");
        assert_eq!(parse_imdn("<imdn><message-id></message-id></imdn>"), None);
    }
}
