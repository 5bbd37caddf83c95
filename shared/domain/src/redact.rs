//! The one place error texts lose their secrets before they are logged or stored.
//!
//! Errors quote what servers said and which URL failed: a download link's `ticket=`, a
//! WFO `sessionId`, an OAuth `code=` or an echoed token can be in them. [`redact_secrets`]
//! replaces the query of every URL and the value of every secret-bearing field with
//! `[redacted]`, and keeps everything an operator needs (statuses, ids, messages).

/// Field names whose values are secrets, compared case-insensitively (`ticket=…`,
/// `"sessionId": "…"`, `Bearer …`).
const SECRET_FIELDS: [&str; 12] = [
    "ticket",
    "sessionid",
    "access_token",
    "refresh_token",
    "accesstoken",
    "refreshtoken",
    "client_secret",
    "password",
    "api_key",
    "apikey",
    "code",
    "bearer",
];

/// `text` with URL queries, user info and the values of secret-bearing fields replaced.
pub fn redact_secrets(text: &str) -> String {
    redact_fields(&redact_url_queries(text))
}

/// Replace the query (and any user info) of every `http://` / `https://` URL in `text`
/// with `[redacted]`: HTTP libraries put the request URL into their error messages, and
/// URLs can carry credentials (the `ticket=` of a Webex download link, an OAuth `code=`).
pub fn redact_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..at]);
        let url_part = &rest[at..];
        let end = url_part
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .unwrap_or(url_part.len());
        let url = &url_part[..end];
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let (scheme, after) = url.split_at(scheme_end);
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, path) = after.split_at(authority_end);
        out.push_str(scheme);
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("[redacted]@");
                out.push_str(&authority[i + 1..]);
            }
            None => out.push_str(authority),
        }
        match path.find(['?', '#']) {
            Some(q) => {
                out.push_str(&path[..q]);
                out.push_str("?[redacted]");
            }
            None => out.push_str(path),
        }
        rest = &url_part[end..];
    }
    out.push_str(rest);
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The secret field whose name starts at byte `i`, standing as a whole word.
fn field_at(text: &str, lower: &str, i: usize) -> Option<&'static str> {
    let at_word_start = i == 0 || !text[..i].chars().next_back().is_some_and(is_name_char);
    if !at_word_start {
        return None;
    }
    SECRET_FIELDS
        .iter()
        .find(|f| lower[i..].starts_with(**f) && !text[i + f.len()..].chars().next().is_some_and(is_name_char))
        .copied()
}

/// Where the value of `field` (whose name starts at `i`) starts: past a closing quote, then
/// `=`, `:` or (for Bearer) spaces, then spaces and an opening quote. `None` when the name
/// is not followed by a separator (a word that merely is a field name).
fn value_start(text: &str, i: usize, field: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut j = i + field.len();
    if j < text.len() && matches!(bytes[j], b'"' | b'\'') {
        j += 1;
    }
    let sep_start = j;
    while j < text.len() && matches!(bytes[j], b' ' | b'\t') {
        j += 1;
    }
    if j < text.len() && matches!(bytes[j], b'=' | b':') {
        j += 1;
        while j < text.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
    } else if !(field == "bearer" && j > sep_start) {
        return None;
    }
    if j < text.len() && matches!(bytes[j], b'"' | b'\'') {
        j += 1;
    }
    Some(j)
}

/// `name=value`, `"name": "value"`, `name: value`, `Bearer value`, for every name in
/// [`SECRET_FIELDS`] standing as a whole word.
fn redact_fields(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < text.len() {
        let Some(field) = field_at(text, &lower, i) else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let Some(j) = value_start(text, i, field) else {
            i += field.len();
            continue;
        };
        // An empty value followed by another secret field (`ticket= sessionId: s`): that
        // field is redacted on its own, rather than its name taken for this value.
        if field_at(text, &lower, j).is_some_and(|next| value_start(text, j, next).is_some()) {
            i = j;
            continue;
        }
        let value_end = text[j..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '&' | ',' | ';' | '}' | ']' | ')' | '<'))
            .map_or(text.len(), |e| j + e);
        if value_end > j {
            out.push_str(&text[copied..j]);
            out.push_str("[redacted]");
            copied = value_end;
        }
        i = value_end.max(j);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_bodies_urls_and_headers_are_replaced_and_the_rest_stays() {
        let text = r#"wfo: could not decode the answer: expected value; body: {"sessionId":"7f3a-SECRET-SESSION","contact":42} (see https://media.example/nbr/Servlet?recordUUID=r1&ticket=TICKET1); ticket=TICKET2&x=1; Authorization: Bearer TOKEN3; password: hunter2, code=CODE4"#;
        let out = redact_secrets(text);
        for secret in ["SECRET-SESSION", "TICKET1", "TICKET2", "TOKEN3", "hunter2", "CODE4"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        for kept in [
            "could not decode the answer",
            "\"contact\":42",
            "https://media.example/nbr/Servlet",
            "x=1",
        ] {
            assert!(out.contains(kept), "{kept} lost from {out}");
        }
    }

    #[test]
    fn an_empty_value_does_not_swallow_the_next_field_name() {
        // Found by fuzzing: the name `sessionId:` was taken for the empty ticket's value,
        // and the session id after it was kept.
        for text in [
            "ticket= sessionId: S3CR3T x",
            "password=  Bearer S3CR3T",
            "code= \"access_token\": \"S3CR3T\"",
        ] {
            let out = redact_secrets(text);
            assert!(!out.contains("S3CR3T"), "{text} -> {out}");
        }
        // A bearer token that happens to be a field name is still a value.
        assert_eq!(
            redact_secrets("Authorization: Bearer code"),
            "Authorization: Bearer [redacted]"
        );
    }

    #[test]
    fn words_that_only_contain_a_field_name_are_left_alone() {
        let text =
            "recording 62807eaf-0c89-492e-a3c3-c4751812603b: barcode: 5, passwords_policy=strict, status code 503";
        assert_eq!(redact_secrets(text), text);
    }

    #[test]
    fn an_items_stored_error_keeps_no_secret_whichever_way_it_failed() {
        use crate::ledger::{Discovery, LedgerItem, RetrySchedule};
        let now = chrono::Utc::now();
        let text =
            r#"wfo: could not decode the answer; body: {"sessionId":"S3CR3T"} see https://dl.example/a?ticket=T1CK3T"#;
        let mut items = vec![LedgerItem::discovered("c", "r", Discovery::Webhook, now); 3];
        items[0].fail(text, &RetrySchedule::default(), None, now);
        items[1].wait(text, now, now);
        items[2].kill(text, now);
        for item in items {
            let stored = item.last_error.unwrap();
            assert!(!stored.contains("S3CR3T") && !stored.contains("T1CK3T"), "{stored}");
            assert!(stored.contains("could not decode the answer"), "{stored}");
        }
    }
}
