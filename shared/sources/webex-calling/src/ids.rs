//! Webex id formats (reference §5.5).

/// Normalise a Webex id for joins: the one decoder every Webex source shares
/// ([`wfo_domain::webex_id::canonical_webex_id`]).
pub fn webex_id_to_uuid(id: &str) -> String {
    wfo_domain::webex_id::canonical_webex_id(id)
}

/// The REST id (`base64("ciscospark://us/PEOPLE/<uuid>")`, unpadded) of a person known
/// by the plain UUID recordings carry; an id that is already a REST id is kept.
pub fn people_rest_id(id: &str) -> String {
    use base64::Engine;
    use wfo_domain::webex_id::{WebexId, decode_webex_id};
    match decode_webex_id(id) {
        Some(WebexId::Uuid(uuid)) => {
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("ciscospark://us/PEOPLE/{uuid}"))
        }
        _ => id.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_people_rest_id_round_trips() {
        let uuid = "f5b36187-c8dd-4727-8b2f-f9c447f29046";
        let rest = people_rest_id(uuid);
        assert_eq!(
            rest,
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY"
        );
        assert_eq!(webex_id_to_uuid(&rest), uuid);
        assert_eq!(people_rest_id(&rest), rest, "already a REST id");
    }

    #[test]
    fn reference_example_decodes_to_the_people_uuid() {
        assert_eq!(
            webex_id_to_uuid("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY"),
            "f5b36187-c8dd-4727-8b2f-f9c447f29046"
        );
    }

    #[test]
    fn padded_and_workspace_ids_decode() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        assert_eq!(
            webex_id_to_uuid(&enc(
                "ciscospark://urn:TEAM:us-west-2_r/PLACE/AB12CD34-0000-1111-2222-333344445555"
            )),
            "ab12cd34-0000-1111-2222-333344445555"
        );
    }

    #[test]
    fn plain_uuids_and_hex_pass_through_lowercased() {
        assert_eq!(
            webex_id_to_uuid("D7468402-E95F-42A9-92C8-DD65F45D40BA"),
            "d7468402-e95f-42a9-92c8-dd65f45d40ba"
        );
        assert_eq!(
            webex_id_to_uuid("BAA93E55C62E4663AE24F13FBFDB247F"),
            "baa93e55-c62e-4663-ae24-f13fbfdb247f",
            "a 32-digit hex id is a UUID without hyphens: the same spelling as the parser's"
        );
    }

    #[test]
    fn other_strings_are_returned_unchanged() {
        assert_eq!(webex_id_to_uuid(" not an id! "), "not an id!");
        assert_eq!(webex_id_to_uuid("aGVsbG8"), "aGVsbG8"); // base64 of "hello"
        assert_eq!(webex_id_to_uuid(""), "");
    }
}
