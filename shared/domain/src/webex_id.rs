//! Webex identifiers, read one way for every Webex source (Calling, Contact Center): a
//! plain UUID in any case, with or without hyphens, or a base64 REST id
//! `ciscospark://<region>/<TYPE>/<uuid>` (Webex Calling reference §5.5). Agent ACD ids,
//! license ids, org ids and the keys the importer and the sync compare all go through
//! [`canonical_webex_id`].

/// A decoded Webex identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebexId {
    /// A plain UUID (lowercase, hyphenated), as metadata `actor.id` and `ownerId` carry.
    Uuid(String),
    /// A base64 REST id `ciscospark://<region>/<TYPE>/<uuid>` (reference §5.5).
    Typed { kind: String, uuid: String },
}

fn normalize_uuid(s: &str) -> Option<String> {
    let s = s.trim();
    let hex_only: String = s.chars().filter(|c| *c != '-').collect();
    let shape_ok = match s.len() {
        36 => s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        }),
        32 => s.chars().all(|c| c.is_ascii_hexdigit()),
        _ => false,
    };
    if !shape_ok {
        return None;
    }
    let h = hex_only.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Decodes standard or URL-safe base64, padded or not.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Reads a plain UUID (any case, with or without hyphens) or a base64
/// `ciscospark://…/<TYPE>/<uuid>` id.
pub fn decode_webex_id(raw: &str) -> Option<WebexId> {
    if let Some(u) = normalize_uuid(raw) {
        return Some(WebexId::Uuid(u));
    }
    let bytes = base64_decode(raw.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix("ciscospark://")?;
    let mut parts = rest.rsplit('/');
    let uuid = normalize_uuid(parts.next()?)?;
    let kind = parts.next()?.to_ascii_uppercase();
    Some(WebexId::Typed { kind, uuid })
}

/// The plain lowercase UUID of a Webex user, from either id form; `None` when the id is
/// not a user id (garbage, or a PLACE/other typed id).
pub fn normalize_user_id(raw: &str) -> Option<String> {
    match decode_webex_id(raw)? {
        WebexId::Uuid(u) => Some(u),
        WebexId::Typed { kind, uuid } if kind == "PEOPLE" => Some(uuid),
        WebexId::Typed { .. } => None,
    }
}

/// The one canonical spelling of a Webex id, used wherever two ids are compared or a
/// value is keyed by one: the lowercase hyphenated UUID of a plain or base64 id (whatever
/// its type); for a base64 `ciscospark://` id whose last part is no UUID, that part
/// lowercased; other hex lowercased; anything else only trimmed.
pub fn canonical_webex_id(raw: &str) -> String {
    if let Some(WebexId::Uuid(u) | WebexId::Typed { uuid: u, .. }) = decode_webex_id(raw) {
        return u;
    }
    let id = raw.trim();
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return id.to_ascii_lowercase();
    }
    let decoded = base64_decode(id).and_then(|b| String::from_utf8(b).ok());
    // Some answers carry the base64 of a plain UUID (no `ciscospark://` path).
    if let Some(u) = decoded.as_deref().and_then(normalize_uuid) {
        return u;
    }
    let last = decoded
        .and_then(|t| {
            t.strip_prefix("ciscospark://")
                .and_then(|rest| rest.rsplit('/').next())
                .map(|l| l.trim().to_ascii_lowercase())
        })
        .filter(|l| !l.is_empty());
    last.unwrap_or_else(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_user_has_one_canonical_form() {
        let uuid = "f5b36187-c8dd-4727-8b2f-f9c447f29046";
        for spelling in [
            uuid,
            "F5B36187-C8DD-4727-8B2F-F9C447F29046",
            "f5b36187c8dd47278b2ff9c447f29046",
            " f5b36187-c8dd-4727-8b2f-f9c447f29046 ",
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY",
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY=",
            // base64 of the plain UUID, as some answers (and the reference's example) carry it
            "ZjViMzYxODctYzhkZC00NzI3LThiMmYtZjljNDQ3ZjI5MDQ2",
        ] {
            assert_eq!(canonical_webex_id(spelling), uuid, "{spelling}");
        }
    }

    #[test]
    fn typed_ids_whose_last_part_is_no_uuid_keep_that_part_and_garbage_is_trimmed() {
        // base64 of ciscospark://us/LICENSE/MS_1a2b
        assert_eq!(
            canonical_webex_id("Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvTVNfMWEyYg"),
            "ms_1a2b"
        );
        assert_eq!(canonical_webex_id(" not an id! "), "not an id!");
        assert_eq!(canonical_webex_id("aGVsbG8"), "aGVsbG8");
        assert_eq!(canonical_webex_id("ABCDEF12"), "abcdef12");
    }
}
