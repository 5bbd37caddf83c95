//! The `errorMessage` texts of the WFO ingest API that a client has to tell apart.
//!
//! The spec fixes the status codes but not the texts, and two different `422`s need two
//! different reactions (create the person first vs. fix the metadata mapping). This
//! module (`wfo_domain::wfo_messages`, re-exported as `wfo_client::messages`) is the single place the texts are written down: the simulator
//! (`wfo-sim-wfo`) builds its error bodies with the `*_message` functions below, and the
//! client recognises them with the `parse_*` functions. Change them only together.
//!
//! | status | text (exact format) | client error |
//! |---|---|---|
//! | 401 | `Invalid credentials` (login) | `WfoError::Unauthorized` |
//! | 401 | `Session expired or invalid` (any other call) | re-login once, then `Unauthorized` |
//! | 422 | `Unknown agent: acdServerId=<int> acdId=<text>` | `WfoError::UnknownAgent` |
//! | 422 | `Unknown metadata key: <key>` | `WfoError::UnknownMetadataKey` |
//! | 422 | `Metadata key is not TEXT: <key>` | `WfoError::UnknownMetadataKey` |
//! | 409 | `Metadata key limit reached: at most 100 keys` | `WfoError::Rejected` |
//! | 404 | `Not found: <what>` | `WfoError::NotFound` |
//!
//! `<text>` and `<key>` run to the end of the message (they may contain spaces), which is
//! why they come last.

/// `401` answer of `POST /api/rest/authorize` for a wrong user id or password.
pub const BAD_CREDENTIALS: &str = "Invalid credentials";

/// `401` answer of any other call whose session cookie is missing, unknown or expired.
pub const SESSION_INVALID: &str = "Session expired or invalid";

/// Prefix of the `422` an import gets when its `agent` names no person.
/// Full format: `Unknown agent: acdServerId=<int> acdId=<text>`.
pub const UNKNOWN_AGENT_PREFIX: &str = "Unknown agent";

/// Prefix of the `422` an import or metadata PUT gets for a key that does not exist.
/// Full format: `Unknown metadata key: <key>`.
pub const UNKNOWN_METADATA_KEY_PREFIX: &str = "Unknown metadata key";

/// Prefix of the `422` an import or metadata PUT gets for a key whose type is not `TEXT`.
/// Full format: `Metadata key is not TEXT: <key>`.
pub const METADATA_KEY_NOT_TEXT_PREFIX: &str = "Metadata key is not TEXT";

/// Text of the answer when a tenant already has 100 metadata keys.
pub const METADATA_KEY_LIMIT: &str = "Metadata key limit reached: at most 100 keys";

/// Prefix of a `404`. Full format: `Not found: <what>` (e.g. `Not found: contact 42`).
pub const NOT_FOUND_PREFIX: &str = "Not found";

/// `Unknown agent: acdServerId=<acd_server_id> acdId=<acd_id>`.
pub fn unknown_agent_message(acd_server_id: i64, acd_id: &str) -> String {
    format!("{UNKNOWN_AGENT_PREFIX}: acdServerId={acd_server_id} acdId={acd_id}")
}

/// `Unknown metadata key: <key>`.
pub fn unknown_metadata_key_message(key: &str) -> String {
    format!("{UNKNOWN_METADATA_KEY_PREFIX}: {key}")
}

/// `Metadata key is not TEXT: <key>`.
pub fn metadata_key_not_text_message(key: &str) -> String {
    format!("{METADATA_KEY_NOT_TEXT_PREFIX}: {key}")
}

/// `Not found: <what>`.
pub fn not_found_message(what: &str) -> String {
    format!("{NOT_FOUND_PREFIX}: {what}")
}

/// `(acd_id, acd_server_id)` from an unknown-agent message; `None` for any other text.
/// A message with the prefix but not the full format yields an empty `acd_id` and/or a
/// `None` server id for the parts it lacks (the client then fills them from the request).
pub fn parse_unknown_agent(message: &str) -> Option<(String, Option<i64>)> {
    let rest = message.strip_prefix(UNKNOWN_AGENT_PREFIX)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let (server, acd_id) = match rest.strip_prefix("acdServerId=") {
        Some(r) => match r.split_once(" acdId=") {
            Some((server, id)) => (server.trim().parse::<i64>().ok(), id.to_owned()),
            None => (r.trim().parse::<i64>().ok(), String::new()),
        },
        None => (None, String::new()),
    };
    Some((acd_id, server))
}

/// Whether `message` is an unknown-agent message.
pub fn is_unknown_agent(message: &str) -> bool {
    message.starts_with(UNKNOWN_AGENT_PREFIX)
}

/// The key named by an unknown-key or non-TEXT-key message, `None` for any other text.
pub fn parse_metadata_key(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix(UNKNOWN_METADATA_KEY_PREFIX)
        .or_else(|| message.strip_prefix(METADATA_KEY_NOT_TEXT_PREFIX))?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    Some(rest.trim_start().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_agent_message_round_trips_an_acd_id_with_spaces() {
        let m = unknown_agent_message(3, "agent one@x");
        assert_eq!(m, "Unknown agent: acdServerId=3 acdId=agent one@x");
        assert_eq!(parse_unknown_agent(&m), Some(("agent one@x".to_owned(), Some(3))));
    }

    #[test]
    fn bare_unknown_agent_prefix_is_still_recognised() {
        assert!(is_unknown_agent("Unknown agent"));
        assert_eq!(parse_unknown_agent("Unknown agent"), Some((String::new(), None)));
        assert_eq!(parse_unknown_agent("Unknown metadata key: x"), None);
    }

    #[test]
    fn both_metadata_key_messages_name_the_key() {
        assert_eq!(
            parse_metadata_key(&unknown_metadata_key_message("a b-key")).as_deref(),
            Some("a b-key")
        );
        assert_eq!(
            parse_metadata_key(&metadata_key_not_text_message("d-key")).as_deref(),
            Some("d-key")
        );
        assert_eq!(parse_metadata_key(&unknown_agent_message(1, "u")), None);
    }
}
