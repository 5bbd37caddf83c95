//! Text from outside that the domain and HTTP layers read.
//!
//! - `connector_toml`: [`ConnectorConfig::from_toml`], the operator's connector file
//!   (`wfo-connect connector add`); an accepted config must survive the JSON form the
//!   stores keep it in.
//! - `wfo_messages`: the WFO `errorMessage` texts the client tells apart
//!   ([`parse_unknown_agent`], [`parse_metadata_key`]) and their round trip with the
//!   `*_message` builders the simulator uses.
//! - `http_headers`: [`wfo_http::next_link`] (`Link` pagination) and
//!   [`wfo_http::parse_retry_after`] on arbitrary header values.
//! - `redact`: [`redact_secrets`] / [`redact_url_queries`], which run over server
//!   answers and URLs before anything is logged or stored; a secret field planted in
//!   arbitrary text must not survive. Also `wfo_pipeline::auth::redacted_snippet`, the
//!   token endpoint's answers in errors: no token-like run may remain.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LINK};
use wfo_domain::config::{ConfigError, ConnectorConfig};
use wfo_domain::redact::{redact_secrets, redact_url_queries};
use wfo_domain::wfo_messages::{
    is_unknown_agent, metadata_key_not_text_message, parse_metadata_key, parse_unknown_agent, unknown_agent_message,
    unknown_metadata_key_message,
};

use crate::seeds;

pub fn connector_toml(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    match ConnectorConfig::from_toml(&text) {
        Ok(cfg) => {
            assert_eq!(cfg.validate(), Ok(()), "validation is not stable");
            let stored = serde_json::to_vec(&cfg).expect("an accepted config serializes");
            let back: ConnectorConfig =
                serde_json::from_slice(&stored).expect("an accepted config reads back from its stored form");
            assert_eq!(back, cfg, "the stored form changes the config");
            let redacted = cfg.redacted();
            assert_eq!(redacted["wfo"]["password"], "********");
            let _ = cfg.scopes();
            format!("ok:{}", cfg.kind)
        }
        Err(ConfigError::Syntax(_)) => "syntax".to_owned(),
        Err(ConfigError::Invalid { field, .. }) => {
            format!(
                "invalid:{}",
                field.chars().filter(|c| !c.is_ascii_digit()).collect::<String>()
            )
        }
    }
}

pub fn toml_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds::connector_tomls();
    let base = seeds::acme_connector_toml();
    out.push(
        base.replace("kind = \"webex-calling\"", "kind = \"webex-cc-1\"")
            .replace(
                "[wfo]",
                "media_api_url = \"https://media.example\"\napi_key = \"k\"\n\n[wfo]",
            )
            .replace(
                "[sync]",
                "[[acd_filter]]\nfield = \"team_name\"\npattern = \"Sales*\"\n\n[sync]",
            )
            .into_bytes(),
    );
    out.push(format!("{base}\n[language]\nmetadata_label = \"Language\"\nfallback = \"en\"\n").into_bytes());
    out.push(
        base.replace("https://acme.example-wfo.com", "http://[::1]:8080")
            .into_bytes(),
    );
    out
}

pub fn wfo_messages(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let agent = parse_unknown_agent(&text);
    assert_eq!(agent.is_some(), is_unknown_agent(&text));
    let key = parse_metadata_key(&text);
    // The builders and the parsers must agree on every id and key.
    let split = text.char_indices().nth(8).map_or(text.len(), |(i, _)| i);
    let server: i64 = text[..split]
        .bytes()
        .fold(0i64, |acc, b| acc.wrapping_mul(131).wrapping_add(i64::from(b)));
    let id = &text[split..];
    assert_eq!(
        parse_unknown_agent(&unknown_agent_message(server, id)),
        Some((id.to_owned(), Some(server))),
        "unknown-agent message does not round-trip"
    );
    for message in [unknown_metadata_key_message(id), metadata_key_not_text_message(id)] {
        assert_eq!(parse_metadata_key(&message).as_deref(), Some(id.trim_start()));
        assert!(!is_unknown_agent(&message));
    }
    let body: Option<wfo_domain::wfo::ErrorBody> = serde_json::from_slice(input).ok();
    format!(
        "{}{}{}",
        u8::from(agent.is_some()),
        u8::from(key.is_some()),
        u8::from(body.is_some())
    )
}

pub fn message_seeds() -> Vec<Vec<u8>> {
    [
        "Unknown agent: acdServerId=3 acdId=agent one@x",
        "Unknown agent",
        "Unknown agent: acdServerId=abc",
        "Unknown metadata key: x-key",
        "Metadata key is not TEXT: d-key",
        "Metadata key limit reached: at most 100 keys",
        "Not found: contact 42",
        r#"{"errorMessage":"Unknown agent: acdServerId=7 acdId=u9","requestId":"r1"}"#,
        "Session expired or invalid",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Header lines `Name: value` (a line without a name is a `Link` value).
fn header_map(input: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in input.split(|&c| c == b'\n') {
        let (name, value) = match line.iter().position(|&c| c == b':') {
            Some(at) if at > 0 => (&line[..at], line[at + 1..].trim_ascii()),
            _ => (b"link".as_slice(), line.trim_ascii()),
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

pub fn http_headers(input: &[u8]) -> String {
    let map = header_map(input);
    let retry = wfo_http::parse_retry_after(&map);
    if let Some(wait) = retry {
        assert!(wait <= wfo_http::MAX_RETRY_AFTER, "Retry-After of {wait:?}");
    }
    let next = wfo_http::next_link(&map);
    if let Some(target) = &next {
        let wrapped = format!("<{target}>");
        assert!(
            map.get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains(&wrapped)),
            "next link {target:?} is not in any Link header"
        );
    }
    format!("{}{}", u8::from(retry.is_some()), u8::from(next.is_some()))
}

pub fn header_seeds() -> Vec<Vec<u8>> {
    [
        "Link: <https://webexapis.com/v1/people?cursor=abc&max=100>; rel=\"next\"",
        "Link: <https://x/1>; rel=\"prev\", <https://x/3>; rel=\"next\"\nRetry-After: 5",
        "link: </v1/x?a=<b>>; rel=\"first next\"",
        "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
        "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT",
        "Retry-After: 18446744073709551615",
        "<https://x/2>; REL=NEXT",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A value no input contains by chance, planted as a secret.
const PLANTED: &str = "Zq7PLANTEDsecret9";

pub fn redact(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input).replace(PLANTED, "");
    let out = redact_secrets(&text);
    let urls = redact_url_queries(&text);
    // Each URL grows by at most "[redacted]@" and "?[redacted]" replacing one byte each.
    assert!(urls.len() <= text.len() + 24 * text.matches("://").count());
    // A secret field standing as a word is redacted whatever surrounds it.
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let field = ["ticket=", "sessionId: ", "\"password\":\"", "Bearer ", "code="][text.len() % 5];
    let planted = format!("{} {field}{PLANTED} {}", &text[..mid], &text[mid..]);
    let cleaned = redact_secrets(&planted);
    assert!(!cleaned.contains(PLANTED), "a planted secret survived: {cleaned:?}");
    // Token-endpoint answers in error texts: no run of 20 token characters survives, and
    // the snippet stays short.
    let snippet = wfo_pipeline::auth::redacted_snippet(input);
    assert!(
        snippet.chars().count() <= 301,
        "snippet of {} characters",
        snippet.chars().count()
    );
    let longest_run = snippet
        .split(|c: char| !(c.is_ascii_alphanumeric() || ".~+/=-".contains(c)))
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_run < 20, "a token-like run of {longest_run} in {snippet:?}");
    format!("{}", u8::from(out != text))
}

pub fn redact_seeds() -> Vec<Vec<u8>> {
    [
        r#"wfo: could not decode the answer: expected value; body: {"sessionId":"7f3a-SECRET","contact":42} (see https://media.example/nbr/Servlet?recordUUID=r1&ticket=T1); ticket=T2&x=1; Authorization: Bearer T3; password: hunter2, code=C4"#,
        "recording 62807eaf-0c89-492e-a3c3-c4751812603b: barcode: 5, passwords_policy=strict, status code 503",
        "error sending request for url (https://user:pw@webexapis.com/v1/people?max=100#frag)",
        "http://",
        "https://é.example/ü?ß=1",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_reach_the_accepting_paths() {
        assert!(toml_seeds().iter().any(|s| connector_toml(s).starts_with("ok:")));
        let messages: Vec<String> = message_seeds().iter().map(|s| wfo_messages(s)).collect();
        assert!(messages.contains(&"100".to_owned()) && messages.contains(&"010".to_owned()));
        assert!(messages.contains(&"001".to_owned()));
        assert!(header_seeds().iter().any(|s| http_headers(s) == "11"));
        assert!(redact_seeds().iter().any(|s| redact(s) == "1"));
    }
}
