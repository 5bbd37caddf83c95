//! ACD filters (`[[acd_filter]]`, the guide's "ACD Filtering"): which users of a Contact
//! Center 1.0 tenant the sync keeps in WFO.
//!
//! A filter is a user field and a glob pattern (`*` any run of characters, `?` exactly
//! one; case-insensitive; the whole value must match). With no filter every user is
//! synced; with filters a user is synced when **any** of them matches (the guide: "you
//! can configure multiple ACD filters", each allowing a set of users, e.g. a Team Name
//! filter). A user who stops matching is left out of the listing, so the sync deactivates
//! them like a deleted one.
//!
//! Fields ([`FIELDS`]): the named ones below, or any raw auxiliary-data attribute by its
//! name with its type suffix (`siteName__s`).

use crate::config::AcdFilter;

/// The named fields a filter may test, with what they are.
pub const FIELDS: &[(&str, &str)] = &[
    ("team_name", "the name of the user's team"),
    ("team_id", "the id of the user's team"),
    ("login", "the user's login"),
    ("email", "the user's e-mail address (the login when none is given)"),
    ("first_name", "the user's first name"),
    ("last_name", "the user's last name"),
    ("name", "the user's full name"),
];

/// Whether `field` is one a filter may test: a named field or a raw attribute
/// (`<name>__<suffix>`).
pub fn check_field(field: &str) -> Result<(), String> {
    let f = field.trim();
    if FIELDS.iter().any(|(n, _)| *n == f) || is_raw_attribute(f) {
        return Ok(());
    }
    Err(format!(
        "'{f}' is not a user field; use one of {} or an attribute name with its type suffix such as siteName__s",
        FIELDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    ))
}

/// `name__suffix`, both parts made of letters, digits and `_`.
pub fn is_raw_attribute(f: &str) -> bool {
    match f.rsplit_once("__") {
        Some((name, suffix)) => {
            !name.is_empty() && !suffix.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Glob match of the whole `text`, case-insensitive. Linear in `pattern × text` at worst
/// (the classic two-pointer walk with one backtrack point: no recursion, no blow-up).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What the filters say of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No filter is configured: everyone is synced.
    NoFilters,
    /// Synced: the filter at this index matched first.
    Matched(usize),
    /// Filters are configured and none matched: not synced.
    NotMatched,
}

impl Verdict {
    pub fn synced(self) -> bool {
        self != Verdict::NotMatched
    }
}

/// Whether a user passes `filters`; `value(field)` gives the user's value of a field
/// (`None`: the user has none, which matches no pattern).
pub fn passes(filters: &[AcdFilter], value: impl Fn(&str) -> Option<String>) -> Verdict {
    if filters.is_empty() {
        return Verdict::NoFilters;
    }
    filters
        .iter()
        .position(|f| value(f.field.trim()).is_some_and(|v| glob_match(&f.pattern, v.trim())))
        .map_or(Verdict::NotMatched, Verdict::Matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_values_case_insensitively() {
        assert!(glob_match("Sales*", "Sales EMEA"));
        assert!(glob_match("sales*", "SALES"));
        assert!(!glob_match("Sales*", "Presales"));
        assert!(glob_match("*sales*", "Presales team"));
        assert!(glob_match("T?am", "Team"));
        assert!(!glob_match("T?am", "Tam"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("Ünïcode*", "üNÏCODE team"));
    }

    #[test]
    fn a_pathological_pattern_stays_fast() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(200));
        let started = std::time::Instant::now();
        assert!(!glob_match(&pattern, &text));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn any_filter_lets_a_user_through() {
        let f = |field: &str, pattern: &str| AcdFilter {
            field: field.to_owned(),
            pattern: pattern.to_owned(),
        };
        let filters = [f("team_name", "Sales*"), f("login", "*@vip.example")];
        let user = |team: &'static str, login: &'static str| {
            move |field: &str| match field {
                "team_name" => Some(team.to_owned()),
                "login" => Some(login.to_owned()),
                _ => None,
            }
        };
        assert_eq!(passes(&filters, user("Sales EMEA", "a@x")), Verdict::Matched(0));
        assert_eq!(passes(&filters, user("Support", "b@vip.example")), Verdict::Matched(1));
        assert_eq!(passes(&filters, user("Support", "c@x")), Verdict::NotMatched);
        assert_eq!(passes(&[], user("Support", "c@x")), Verdict::NoFilters);
        assert_eq!(
            passes(&[f("team_name", "*")], |_| None),
            Verdict::NotMatched,
            "no team matches no pattern"
        );
    }

    #[test]
    fn fields_are_named_ones_or_raw_attributes() {
        assert!(check_field("team_name").is_ok());
        assert!(check_field("siteName__s").is_ok());
        let e = check_field("queue").unwrap_err();
        assert!(e.contains("team_name"), "{e}");
        assert!(check_field("__s").is_err());
        assert!(check_field("a b__s").is_err());
    }
}
