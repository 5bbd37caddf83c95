//! Lenient decoding helpers: enums that keep unknown values, timestamps with any offset,
//! numbers that may arrive as floats or strings.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// Compare two enum spellings ignoring case, `_` and `-` (`virtualLine` = `VIRTUAL_LINE`).
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// An enum that decodes any string: known spellings (compared with [`same_name`]) map
/// to a variant, anything else is kept in `Unknown(String)`. Serializes to the
/// documented wire spelling.
macro_rules! lenient_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $( if $crate::lenient::same_name(s, $wire) { return Self::$variant; } )+
                Self::Unknown(s.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}
pub(crate) use lenient_enum;

/// Parse a timestamp leniently: RFC 3339 with `Z` or any offset (`+08:00`), an offset
/// without colon (`+0800`), or no offset at all (taken as UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A required timestamp (see [`parse_datetime`]).
pub(crate) fn de_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_datetime(&s).ok_or_else(|| serde::de::Error::custom(format!("unrecognised timestamp {s:?}")))
}

/// An optional timestamp: absent, `null` or unparseable give `None` (the last is logged).
pub(crate) fn de_opt_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => {
            let t = parse_datetime(&s);
            if t.is_none() {
                tracing::warn!(value = %s, "webex: ignoring unrecognised timestamp");
            }
            t
        }
        Some(serde_json::Value::Null) | None => None,
        Some(other) => {
            tracing::warn!(value = %other, "webex: ignoring non-string timestamp");
            None
        }
    })
}

/// An optional non-negative count that may arrive as an integer, a float or a string.
pub(crate) fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.round() as u64),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_with_offsets_normalise_to_utc() {
        let want = Utc.with_ymd_and_hms(2023, 10, 31, 8, 24, 12).unwrap();
        for s in [
            "2023-10-31T16:24:12+08:00",
            "2023-10-31T16:24:12+0800",
            "2023-10-31T08:24:12Z",
            "2023-10-31T08:24:12.000Z",
            "2023-10-31T08:24:12",
            " 2023-10-31T08:24:12z ",
        ] {
            assert_eq!(parse_datetime(s), Some(want), "{s}");
        }
        assert_eq!(parse_datetime("yesterday"), None);
    }

    lenient_enum!(Colour { Red => "red", DarkBlue => "darkBlue" });

    #[test]
    fn lenient_enum_matches_case_and_underscores_and_keeps_unknown() {
        assert_eq!(Colour::from("RED"), Colour::Red);
        assert_eq!(Colour::from("DARK_BLUE"), Colour::DarkBlue);
        assert_eq!(Colour::from("green"), Colour::Unknown("green".into()));
        let c: Colour = serde_json::from_str("\"mauve\"").unwrap();
        assert_eq!(c.as_str(), "mauve");
        assert_eq!(serde_json::to_string(&Colour::DarkBlue).unwrap(), "\"darkBlue\"");
    }

    #[derive(serde::Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "de_opt_u64")]
        n: Option<u64>,
    }

    #[test]
    fn counts_accept_floats_and_strings() {
        let n = |j: &str| serde_json::from_str::<N>(j).unwrap().n;
        assert_eq!(n(r#"{"n": 60}"#), Some(60));
        assert_eq!(n(r#"{"n": 59.6}"#), Some(60));
        assert_eq!(n(r#"{"n": "12"}"#), Some(12));
        assert_eq!(n(r#"{"n": null}"#), None);
        assert_eq!(n(r#"{}"#), None);
        assert_eq!(n(r#"{"n": -1}"#), None);
    }
}
