//! The exact `errorMessage` texts the simulator answers with.
//!
//! The texts a client must tell apart, and the functions that format them, live only in
//! `wfo_domain::wfo_messages` (shared with the client, re-exported here); this module adds
//! the ones only the simulator says.
//!
//! | status | text (exact format) |
//! |---|---|
//! | 401 | `Invalid credentials` (login) |
//! | 401 | `Session expired or invalid` (any other call: cookie missing, unknown or expired) |
//! | 422 | `Unknown agent: acdServerId=<int> acdId=<text>` |
//! | 422 | `Unknown metadata key: <key>` |
//! | 422 | `Metadata key is not TEXT: <key>` |
//! | 404 | `Not found: <what>` (`contact 42`, `person 7`, `team 3`, `route GET /x`) |
//!
//! `<text>` and `<key>` run to the end of the message, which is why they come last.

pub use wfo_domain::wfo_messages::*;

/// `429` from fault injection.
pub const RATE_LIMITED: &str = "Too many requests: retry after the Retry-After delay";

/// `500` from fault injection.
pub const INJECTED_SERVER_ERROR: &str = "Internal server error (injected fault)";

/// `503` from fault injection.
pub const INJECTED_UNAVAILABLE: &str = "Service unavailable (injected fault)";

/// Prefix of a `400` for a body that is not the expected JSON.
pub const MALFORMED_JSON_PREFIX: &str = "Malformed JSON body";

/// `Malformed JSON body: <problem>`, the problem as serde_json words it (for example
/// ``missing field `agent` at line 1 column 57``).
pub fn malformed_json_message(problem: &str) -> String {
    format!("{MALFORMED_JSON_PREFIX}: {problem}")
}

/// `415` on an audio upload with another `Content-Type`.
pub fn unsupported_audio_type_message(content_type: &str) -> String {
    format!("Unsupported Content-Type {content_type:?}: send audio/mpeg or audio/wav")
}

/// `413` on an audio upload over the limit.
pub fn audio_too_large_message(limit: u64) -> String {
    format!("Audio body exceeds the limit of {limit} bytes")
}

/// `422` for a person whose `groupId` names no team.
pub fn unknown_group_message(id: i64) -> String {
    format!("Unknown groupId: {id}")
}

/// `422` for a person with a role id that does not exist.
pub fn unknown_role_message(id: i64) -> String {
    format!("Unknown role id: {id}")
}

/// `403` on an organization listing for an API user whose roles lack ViewOrg.
pub const NO_VIEW_ORG: &str = "The user does not have permission ViewOrg: assign a role that grants it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_a_client_tells_apart_have_the_documented_format() {
        assert_eq!(
            unknown_agent_message(3, "agent one@x"),
            "Unknown agent: acdServerId=3 acdId=agent one@x"
        );
        assert_eq!(unknown_metadata_key_message("a b-key"), "Unknown metadata key: a b-key");
        assert_eq!(
            metadata_key_not_text_message("d-key"),
            "Metadata key is not TEXT: d-key"
        );
        assert_eq!(not_found_message("contact 42"), "Not found: contact 42");
    }
}
