//! Webex id formats (reference §5.5).

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// base64url, padding optional.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Normalise a Webex id for joins: a base64url `ciscospark://<region>/<TYPE>/<uuid>` id
/// becomes the lower-case `<uuid>`; a plain UUID or hex id is lower-cased; anything
/// else is returned unchanged.
pub fn webex_id_to_uuid(id: &str) -> String {
    let id = id.trim();
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return id.to_ascii_lowercase();
    }
    // Accept the standard alphabet too, in case an id was re-encoded somewhere.
    let url_safe: String = id
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let Ok(bytes) = LENIENT_URL_SAFE.decode(url_safe.as_bytes()) else {
        return id.to_owned();
    };
    let Ok(decoded) = String::from_utf8(bytes) else {
        return id.to_owned();
    };
    let Some(path) = decoded.strip_prefix("ciscospark://") else {
        return id.to_owned();
    };
    match path.rsplit('/').next().map(str::trim).filter(|s| !s.is_empty()) {
        Some(last) => last.to_ascii_lowercase(),
        None => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "baa93e55c62e4663ae24f13fbfdb247f"
        );
    }

    #[test]
    fn other_strings_are_returned_unchanged() {
        assert_eq!(webex_id_to_uuid("not an id!"), "not an id!");
        assert_eq!(webex_id_to_uuid("aGVsbG8"), "aGVsbG8"); // base64 of "hello"
        assert_eq!(webex_id_to_uuid(""), "");
    }
}
