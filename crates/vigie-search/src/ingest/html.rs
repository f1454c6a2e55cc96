//! HTML to the Markdown-like lines `blocks::from_markdown` reads: headings become `#`,
//! table cells are separated by tabs, scripts and styles are dropped, entities decoded.

/// Returns the `<title>` (if any) and the body as Markdown-like text.
pub fn to_markdown(html: &str) -> (Option<String>, String) {
    let mut out = String::with_capacity(html.len() / 2);
    let mut title = None;
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    let mut in_title = false;
    let mut first_cell = true;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest, skip_until.is_some() || in_title);
            break;
        };
        let text = &rest[..lt];
        if in_title {
            title = Some(decode_entities(text).split_whitespace().collect::<Vec<_>>().join(" "));
        } else {
            push_text(&mut out, text, skip_until.is_some());
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "title" => in_title = !closing,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                out.push_str("\n\n");
                if !closing {
                    let level = name[1..].parse::<usize>().unwrap_or(1);
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
            }
            "p" | "div" | "section" | "article" | "header" | "footer" | "blockquote" | "ul" | "ol" | "table"
            | "main" | "nav" | "aside" | "pre" => out.push_str("\n\n"),
            "li" if !closing => out.push_str("\n- "),
            "br" => out.push('\n'),
            "tr" if !closing => {
                out.push('\n');
                first_cell = true;
            }
            "td" | "th" if !closing => {
                if !first_cell {
                    out.push('\t');
                }
                first_cell = false;
            }
            _ => {}
        }
    }
    (title.filter(|t| !t.is_empty()), out)
}

fn push_text(out: &mut String, text: &str, skip: bool) {
    if skip || text.is_empty() {
        return;
    }
    // Whitespace in HTML is not significant: one space, never a line break.
    let decoded = decode_entities(text);
    let mut words = decoded.split(|c: char| c.is_whitespace() && c != '\u{a0}').filter(|w| !w.is_empty()).peekable();
    if decoded.starts_with(char::is_whitespace) && !out.ends_with(char::is_whitespace) {
        out.push(' ');
    }
    while let Some(w) = words.next() {
        out.push_str(w);
        if words.peek().is_some() {
            out.push(' ');
        }
    }
    if decoded.ends_with(char::is_whitespace) && !decoded.trim().is_empty() {
        out.push(' ');
    }
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded =
            rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| entity(&rest[1..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "rsquo" => '’',
        "lsquo" => '‘',
        "nbsp" => '\u{a0}',
        "laquo" => '«',
        "raquo" => '»',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "agrave" => 'à',
        "acirc" => 'â',
        "ccedil" => 'ç',
        "ocirc" => 'ô',
        "ucirc" => 'û',
        "ugrave" => 'ù',
        "icirc" => 'î',
        "iuml" => 'ï',
        "Eacute" => 'É',
        "oelig" => 'œ',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_markdown_lines() {
        let html = "<html><head><title>Guide &amp; bonnes pratiques</title><style>p{}</style></head><body>\
                    <h2>Chiens détecteurs</h2><p>Les chiens&nbsp;détecteurs d&#39;explosifs\n  sont utiles.</p>\
                    <script>alert(1)</script><table><tr><th>Objectif</th><th>Délai</th></tr><tr><td>A</td><td>2018</td></tr></table>\
                    <ul><li>un</li><li>deux</li></ul><!-- caché --></body></html>";
        let (title, md) = to_markdown(html);
        assert_eq!(title.as_deref(), Some("Guide & bonnes pratiques"));
        assert!(md.contains("## Chiens détecteurs"), "{md}");
        assert!(md.contains("Les chiens\u{a0}détecteurs d'explosifs sont utiles."), "{md}");
        assert!(md.contains("Objectif\tDélai\nA\t2018"), "{md}");
        assert!(md.contains("\n- un\n- deux"), "{md}");
        assert!(!md.contains("alert") && !md.contains("caché") && !md.contains("p{}"), "{md}");
    }
}
