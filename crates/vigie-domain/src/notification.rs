//! Notifications out: the e-mail and the webhook body that tell a recipient a bulletin awaits
//! them, and when a failed delivery is tried again. Content leaves only under TLP:CLEAR and
//! TLP:GREEN; above that a notification says which marking awaits and where, nothing more.
use crate::bulletin::{Bulletin, Texts};
use crate::sharing::Marking;

/// Attempts before a delivery is given up and reported.
pub const MAX_ATTEMPTS: u32 = 6;

/// How long to wait after failed attempt number `attempts` (1-based): 30 s, then four times
/// longer each time (2 min, 8 min, 32 min, ~2 h); `None` once [`MAX_ATTEMPTS`] have failed.
pub fn retry_delay_ms(attempts: u32) -> Option<i64> {
    if attempts == 0 || attempts >= MAX_ATTEMPTS {
        return None;
    }
    Some(30_000 * 4_i64.pow(attempts - 1))
}

/// Whether a bulletin's words may travel in a notification.
pub fn content_may_leave(marking: Marking) -> bool {
    matches!(marking, Marking::Clear | Marking::Green)
}

fn both(texts: &Texts) -> String {
    [&texts.fr, &texts.en]
        .into_iter()
        .flatten()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The e-mail (subject, plain-text body, in French then English) that tells a recipient a
/// bulletin awaits them at `link`.
pub fn bulletin_email(bulletin: &Bulletin, link: &str) -> (String, String) {
    let d = &bulletin.draft;
    let marking = d.marking.label();
    let drill = if d.status == "Actual" { String::new() } else { format!(" [{}]", d.status) };
    if content_may_leave(d.marking) {
        let subject = format!("[{marking}]{drill} {}", both(&d.title));
        let mut body = format!("{marking}{drill}\n\n{}\n\n{}\n", both(&d.title), both(&d.text));
        if !both(&d.instruction).is_empty() {
            body.push_str(&format!("\n{}\n", both(&d.instruction)));
        }
        body.push_str(&format!("\nVigie : {link}\n"));
        (subject, body)
    } else {
        let subject =
            format!("Vigie : un bulletin {marking} vous attend / a bulletin marked {marking} awaits you{drill}");
        let body = format!(
            "Un bulletin marqué {marking} vous attend dans Vigie. Pour le lire, connectez-vous : {link}\n\n\
             A bulletin marked {marking} awaits you in Vigie. Sign in to read it: {link}\n\n\
             (Le contenu d'un bulletin marqué au-dessus de TLP:GREEN n'est jamais envoyé par e-mail. / \
             The content of a bulletin marked above TLP:GREEN is never sent by e-mail.)\n"
        );
        (subject, body)
    }
}

/// The JSON body posted to an organisation's webhook for a new bulletin: what it is, its
/// marking and where to read it (`api` with the organisation's token); its title and text only
/// under CLEAR or GREEN.
pub fn bulletin_webhook_body(bulletin: &Bulletin, link: &str, api: &str) -> serde_json::Value {
    let d = &bulletin.draft;
    let mut body = serde_json::json!({
        "event": "bulletin.created",
        "bulletin_id": bulletin.id,
        "marking": d.marking.label(),
        "status": d.status,
        "msg_type": d.msg_type,
        "urgency": d.urgency,
        "severity": d.severity,
        "certainty": d.certainty,
        "response_type": d.response_type,
        "effective": crate::bulletin::rfc3339(d.effective_ms),
        "url": link,
        "api": api,
    });
    if content_may_leave(d.marking)
        && let Some(fields) = body.as_object_mut()
    {
        fields.insert("title".into(), serde_json::json!(d.title));
        fields.insert("text".into(), serde_json::json!(d.text));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulletin::BulletinDraft;
    use crate::sharing::Recipients;

    fn bulletin(marking: Marking) -> Bulletin {
        let texts = |t: &str| Texts { fr: None, en: Some(t.to_owned()) };
        Bulletin {
            id: "b1".into(),
            author: "u".into(),
            author_org: "city".into(),
            created_at_ms: 0,
            draft: BulletinDraft {
                title: texts("Grey van at the goods entrance"),
                text: texts("Plate ABC-123, two men filming"),
                instruction: texts("Report, do not confront"),
                marking,
                recipients: Recipients::default(),
                area: None,
                sites: Vec::new(),
                scenario: None,
                urgency: "Expected".into(),
                severity: "Moderate".into(),
                certainty: "Likely".into(),
                response_type: "Monitor".into(),
                status: "Actual".into(),
                msg_type: "Alert".into(),
                references: None,
                effective_ms: 0,
                expires_ms: None,
            },
        }
    }

    #[test]
    fn nothing_above_green_leaves_in_an_email_or_a_webhook() {
        for marking in [Marking::Amber, Marking::AmberStrict, Marking::Red] {
            let b = bulletin(marking);
            let (subject, body) = bulletin_email(&b, "https://vigie.example/bulletins/b1");
            let hook = bulletin_webhook_body(
                &b,
                "https://vigie.example/bulletins/b1",
                "https://vigie.example/api/v1/bulletins/b1",
            )
            .to_string();
            for text in [&subject, &body, &hook] {
                assert!(
                    !text.contains("Grey van") && !text.contains("ABC-123") && !text.contains("confront"),
                    "{text}"
                );
            }
            assert!(subject.contains(marking.label()) && body.contains("https://vigie.example/bulletins/b1"));
        }
        let (subject, body) = bulletin_email(&bulletin(Marking::Green), "L");
        assert!(subject.contains("Grey van") && body.contains("ABC-123") && body.contains("confront"));
    }

    #[test]
    fn failed_deliveries_back_off_then_stop() {
        let delays: Vec<Option<i64>> = (1..=MAX_ATTEMPTS).map(retry_delay_ms).collect();
        assert_eq!(delays[0], Some(30_000));
        assert!(delays.windows(2).take(4).all(|w| w[1] > w[0]));
        assert_eq!(delays.last(), Some(&None));
    }
}
