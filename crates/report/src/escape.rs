//! HTML escaping: the one function every string from a log or an alert goes through.

use std::fmt;

/// Appends `s` to `out` escaped for HTML text *and* double- or single-quoted attribute values
/// (also inside inline SVG): `&`, `<`, `>`, `"` and `'` become character references, and control
/// characters other than tab, newline and carriage return (which HTML does not allow) become
/// U+FFFD. Nothing from `s` can open a tag, close an attribute or start an entity.
pub fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(needs_escape) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or('\u{fffd}');
        out.push_str(match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            _ => "\u{fffd}",
        });
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// `s` escaped for HTML text and attribute values (see [`escape_into`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

/// Formats a string escaped (see [`escape_into`]), for use in `write!`/`format!`.
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        escape_into(&mut out, self.0);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_ampersands() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("a & b &amp;"), "a &amp; b &amp;amp;");
        assert_eq!(escape(r#"say "hi" it's"#), "say &quot;hi&quot; it&#39;s");
        assert_eq!(escape("plain ünïcødé → ok"), "plain ünïcødé → ok");
        assert_eq!(
            escape("nul\0bell\u{7}\ttab\n"),
            "nul\u{fffd}bell\u{fffd}\ttab\n"
        );
        assert_eq!(escape(""), "");
        assert_eq!(Esc("<&>").to_string(), "&lt;&amp;&gt;");
    }

    #[test]
    fn attribute_context_cannot_be_broken_out_of() {
        let payload = r#"x" onmouseover="window.__xss=1" a='b'><img src=x onerror=alert(1)>"#;
        let attr = format!(r#"<span title="{}">"#, Esc(payload));
        // One attribute, one tag: no quote or angle bracket from the payload survives.
        assert_eq!(attr.matches('"').count(), 2);
        assert_eq!(attr.matches('<').count(), 1);
        assert_eq!(attr.matches('>').count(), 1);
        assert!(!attr.contains('\''));
        let single = format!("<span title='{}'>", Esc(payload));
        assert_eq!(single.matches('\'').count(), 2);
    }
}
