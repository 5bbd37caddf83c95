//! A connector's configuration: one TOML document (`specs/interfaces.md` §1).
//!
//! Parsing is strict: an unknown field is an error (a typo must not silently disable a
//! feature), and every validation failure names the field and the rule it breaks.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectorKind {
    #[serde(rename = "webex-calling")]
    WebexCalling,
    #[serde(rename = "webex-cc-2")]
    WebexCc2,
    #[serde(rename = "webex-cc-1")]
    WebexCc1,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::WebexCalling => "webex-calling",
            ConnectorKind::WebexCc2 => "webex-cc-2",
            ConnectorKind::WebexCc1 => "webex-cc-1",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webex-calling" => Some(ConnectorKind::WebexCalling),
            "webex-cc-2" => Some(ConnectorKind::WebexCc2),
            "webex-cc-1" => Some(ConnectorKind::WebexCc1),
            _ => None,
        }
    }

    /// Whether connectors of this kind are authorized through OAuth (an Authorization URL,
    /// `source.client_id` and `source.client_secret`); the other kind (`webex-cc-1`)
    /// authenticates with `source.api_key`. What the configuration validates; a source
    /// registered for the kind says the same through its credential scheme.
    pub fn uses_oauth(self) -> bool {
        matches!(self, ConnectorKind::WebexCalling | ConnectorKind::WebexCc2)
    }

    /// Whether the source delivers webhooks at all (Contact Center 1.0 does not: its
    /// sessions are polled, and `features.webhook` is ignored for it).
    pub fn sends_webhooks(self) -> bool {
        self != ConnectorKind::WebexCc1
    }
}

impl std::fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const DEFAULT_IDENTITY_URL: &str = "https://webexapis.com";

/// Scopes requested when the configuration names none.
pub fn default_scopes(kind: ConnectorKind) -> Vec<String> {
    let s: &[&str] = match kind {
        ConnectorKind::WebexCalling => &[
            "spark-compliance:recordings_read",
            "spark-compliance:webhooks_read",
            "spark-compliance:webhooks_write",
            "spark-admin:people_read",
            "spark-admin:licenses_read",
            "spark-admin:telephony_config_read",
            // The user sync's change feed (admin audit events): without it every
            // candidate's recording mode is read each run (docs/user-sync.md).
            "audit:events_read",
        ],
        // Reference §1.2, §9.1: the configuration lists, Search and captures read with
        // `cjp:config_read`; the capture subscription is written with `cjp:config_write`;
        // `GET /v1/people/me` (the identity check) needs `spark:people_read`.
        ConnectorKind::WebexCc2 => &["cjp:config_read", "cjp:config_write", "spark:people_read"],
        ConnectorKind::WebexCc1 => &[],
    };
    s.iter().map(|s| (*s).to_owned()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    pub id: String,
    pub acd_name: String,
    pub kind: ConnectorKind,
    pub acd_server_id: i64,
    pub source: SourceConfig,
    pub wfo: WfoConfig,
    #[serde(default)]
    pub features: Features,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub metadata_mapping: Vec<MetadataMapping>,
    #[serde(default)]
    pub language: Option<LanguageConfig>,
    #[serde(default)]
    pub acd_filter: Vec<AcdFilter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub api_url: String,
    #[serde(default = "default_identity_url")]
    pub identity_url: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub media_api_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<Secret>,
}

fn default_identity_url() -> String {
    DEFAULT_IDENTITY_URL.to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WfoConfig {
    pub api_url: String,
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    #[serde(default = "yes")]
    pub qm_voice: bool,
    #[serde(default)]
    pub qm_digital: bool,
    #[serde(default = "yes")]
    pub media_import: bool,
    #[serde(default = "yes")]
    pub user_sync: bool,
    #[serde(default)]
    pub webhook: bool,
}

fn yes() -> bool {
    true
}

impl Default for Features {
    fn default() -> Self {
        Self {
            qm_voice: true,
            qm_digital: false,
            media_import: true,
            user_sync: true,
            webhook: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    #[serde(default = "default_interval")]
    pub interval_minutes: u32,
    #[serde(default)]
    pub capture_delay_minutes: u32,
    #[serde(default)]
    pub data_recapture: bool,
    #[serde(default = "default_recapture_time")]
    pub recapture_time: String,
    /// The time zone `recapture_time` and "the previous day" are read in (an IANA name
    /// such as `Europe/Berlin`); UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When the user sync creates WFO persons; unset: the source's guide (Webex Calling:
    /// with the user's first recording; Contact Center: every eligible user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_persons: Option<CreatePersons>,
}

/// `sync.create_persons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatePersons {
    /// The import creates a person when the user's first recording arrives; the sync
    /// keeps the persons that exist in step (names, deactivation).
    OnFirstRecording,
    /// The sync creates a person for every eligible user, before their first call.
    AllEligible,
}

fn default_interval() -> u32 {
    30
}

fn default_recapture_time() -> String {
    "02:00".to_owned()
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            interval_minutes: default_interval(),
            capture_delay_minutes: 0,
            data_recapture: false,
            recapture_time: default_recapture_time(),
            time_zone: None,
            create_persons: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataMapping {
    pub acd_field: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageConfig {
    #[serde(default)]
    pub metadata_label: Option<String>,
    #[serde(default = "default_fallback_language")]
    pub fallback: String,
}

fn default_fallback_language() -> String {
    "en".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcdFilter {
    pub field: String,
    pub pattern: String,
}

/// A configuration problem: the field and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Syntax(String),
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
}

fn invalid(field: &str, rule: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        rule: rule.into(),
    }
}

impl ConnectorConfig {
    /// Parse and validate one connector TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: ConnectorConfig = toml::from_str(text).map_err(|e| {
            // toml's message names the key and the line; keep it on one line.
            ConfigError::Syntax(
                e.to_string()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every rule of `interfaces.md` §1 that can be checked without the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_valid_id(&self.id) {
            return Err(invalid("id", format!("'{}' must match [a-z0-9-]{{1,40}}", self.id)));
        }
        if self.acd_name.trim().is_empty() {
            return Err(invalid("acd_name", "must not be empty"));
        }
        if self.acd_server_id < 1 {
            return Err(invalid(
                "acd_server_id",
                "must be a positive integer (this ACD's number in WFO)",
            ));
        }
        check_url("source.api_url", &self.source.api_url)?;
        check_url("source.identity_url", &self.source.identity_url)?;
        check_url("wfo.api_url", &self.wfo.api_url)?;
        if self.wfo.username.trim().is_empty() {
            return Err(invalid("wfo.username", "must not be empty"));
        }
        if self.wfo.password.is_empty() {
            return Err(invalid("wfo.password", "must not be empty"));
        }
        if self.kind.uses_oauth() {
            if self.source.client_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(invalid(
                    "source.client_id",
                    format!("required for kind = \"{}\" (OAuth integration)", self.kind),
                ));
            }
            if self.source.client_secret.as_ref().is_none_or(Secret::is_empty) {
                return Err(invalid(
                    "source.client_secret",
                    format!("required for kind = \"{}\" (OAuth integration)", self.kind),
                ));
            }
        }
        if self.kind == ConnectorKind::WebexCc2 {
            check_wxcc_region("source.api_url", &self.source.api_url)?;
        }
        if self.kind == ConnectorKind::WebexCc1 {
            match &self.source.media_api_url {
                Some(u) => check_url("source.media_api_url", u)?,
                None => return Err(invalid("source.media_api_url", "required for kind = \"webex-cc-1\"")),
            }
            if self.source.api_key.as_ref().is_none_or(Secret::is_empty) {
                return Err(invalid("source.api_key", "required for kind = \"webex-cc-1\""));
            }
        } else {
            if self.source.media_api_url.is_some() {
                return Err(invalid("source.media_api_url", "only used by kind = \"webex-cc-1\""));
            }
            if self.source.api_key.is_some() {
                return Err(invalid("source.api_key", "only used by kind = \"webex-cc-1\""));
            }
            if !self.acd_filter.is_empty() {
                return Err(invalid(
                    "acd_filter",
                    "ACD filtering is only available for kind = \"webex-cc-1\"",
                ));
            }
        }
        if let Some(scopes) = &self.source.scopes
            && (scopes.is_empty() || scopes.iter().any(|s| s.trim().is_empty() || s.contains(' ')))
        {
            return Err(invalid(
                "source.scopes",
                "must be a non-empty list of scope names without spaces",
            ));
        }
        let min_interval = match self.kind {
            ConnectorKind::WebexCalling => 1,
            _ => 10,
        };
        if self.sync.interval_minutes < min_interval || self.sync.interval_minutes > 24 * 60 {
            return Err(invalid(
                "sync.interval_minutes",
                format!("must be between {min_interval} and 1440 for kind = \"{}\"", self.kind),
            ));
        }
        if let Some(tz) = &self.sync.time_zone
            && tz.trim().parse::<chrono_tz::Tz>().is_err()
        {
            return Err(invalid(
                "sync.time_zone",
                format!("'{tz}' is not a time zone; use an IANA name such as \"Europe/Berlin\" or \"UTC\""),
            ));
        }
        if !is_wall_clock(&self.sync.recapture_time) {
            return Err(invalid(
                "sync.recapture_time",
                format!("'{}' must be HH:MM (24-hour)", self.sync.recapture_time),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.metadata_mapping.iter().enumerate() {
            let field = format!("metadata_mapping[{i}].acd_field");
            if let Err(rule) = check_field_path(&m.acd_field) {
                return Err(invalid(&field, rule));
            }
            if m.label.trim().is_empty() {
                return Err(invalid(&format!("metadata_mapping[{i}].label"), "must not be empty"));
            }
            if !seen.insert(m.label.trim().to_lowercase()) {
                return Err(invalid(
                    &format!("metadata_mapping[{i}].label"),
                    format!("'{}' is mapped twice; each WFO key can receive one ACD field", m.label),
                ));
            }
        }
        if self.metadata_mapping.len() > 100 {
            return Err(invalid(
                "metadata_mapping",
                "a WFO tenant allows at most 100 metadata keys",
            ));
        }
        if let Some(lang) = &self.language
            && lang.fallback.trim().is_empty()
        {
            return Err(invalid(
                "language.fallback",
                "must be a BCP 47 language tag such as \"en\"",
            ));
        }
        for (i, f) in self.acd_filter.iter().enumerate() {
            if f.field.trim().is_empty() {
                return Err(invalid(&format!("acd_filter[{i}].field"), "must not be empty"));
            }
            if f.pattern.is_empty() {
                return Err(invalid(&format!("acd_filter[{i}].pattern"), "must not be empty"));
            }
            crate::acd_filter::check_field(&f.field)
                .map_err(|rule| invalid(&format!("acd_filter[{i}].field"), rule))?;
        }
        Ok(())
    }

    /// `features.webhook`, for a source that sends webhooks.
    pub fn registers_webhook(&self) -> bool {
        self.features.webhook && self.kind.sends_webhooks()
    }

    /// Scopes to request: the configured override or the kind's defaults.
    pub fn scopes(&self) -> Vec<String> {
        self.source.scopes.clone().unwrap_or_else(|| default_scopes(self.kind))
    }

    /// A copy safe to print: every secret replaced by `********`.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        for (section, field) in [("source", "client_secret"), ("source", "api_key"), ("wfo", "password")] {
            if let Some(slot) = v.get_mut(section).and_then(|s| s.get_mut(field))
                && !slot.is_null()
            {
                *slot = serde_json::Value::String("********".to_owned());
            }
        }
        v
    }
}

pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The Webex Contact Center 2.0 regions (reference §1.1): `api.wxcc-{region}.cisco.com`.
/// `in1` is seen only in an SDK's map (UNCONFIRMED as a public region) and accepted.
pub const WXCC_REGIONS: &[&str] = &["us1", "eu1", "eu2", "anz1", "ca1", "jp1", "sg1", "in1"];

/// A Contact Center 2.0 API host: a known region's `api.wxcc-…` host, or any other host
/// (a private deployment, a simulator); a Cisco host that is not a regional API host
/// (an unknown region, the portal or desktop host, the global Webex API) is refused
/// with the hosts that would work.
fn check_wxcc_region(field: &str, value: &str) -> Result<(), ConfigError> {
    let rest = value.split("://").nth(1).unwrap_or_default();
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let path = &rest[authority.len()..];
    let known = || {
        WXCC_REGIONS
            .iter()
            .map(|r| format!("https://api.wxcc-{r}.cisco.com"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if host == "webexapis.com" || host.ends_with(".webexapis.com") {
        return Err(invalid(
            field,
            format!(
                "'{value}' is the global Webex API; a Contact Center 2.0 connector calls its tenant's regional host, one of {}",
                known()
            ),
        ));
    }
    if let Some(sub) = host.strip_suffix(".cisco.com")
        && let Some(at) = sub.find("wxcc-")
    {
        let region = &sub[at + "wxcc-".len()..];
        if !WXCC_REGIONS.contains(&region) {
            return Err(invalid(
                field,
                format!(
                    "'{value}': unknown Contact Center region '{region}'; the regions are {}",
                    known()
                ),
            ));
        }
        if &sub[..at] != "api." {
            return Err(invalid(
                field,
                format!(
                    "'{value}' is not the API host of region {region}; use https://api.wxcc-{region}.cisco.com (the portal and desktop hosts do not serve the API)"
                ),
            ));
        }
    }
    if !(path.is_empty() || path == "/") {
        return Err(invalid(
            field,
            format!("'{value}' must be the API host alone (no path): the connector adds /organization/… and /search"),
        ));
    }
    Ok(())
}

fn check_url(field: &str, value: &str) -> Result<(), ConfigError> {
    let shaped = (value.starts_with("https://") || value.starts_with("http://"))
        && value
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !value.contains(char::is_whitespace);
    if !shaped {
        return Err(invalid(
            field,
            format!("'{value}' must be an https URL such as https://host"),
        ));
    }
    if let Some(rest) = value.strip_prefix("http://")
        && !is_loopback_authority(rest)
    {
        return Err(invalid(
            field,
            format!(
                "'{value}' must use https:// (passwords and tokens travel on it); plain http:// is only for loopback hosts (127.0.0.1, localhost, [::1])"
            ),
        ));
    }
    Ok(())
}

/// Whether the host of `rest` (what follows `http://`) is a loopback address.
fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_wall_clock(s: &str) -> bool {
    let Some((h, m)) = s.split_once(':') else { return false };
    h.len() == 2 && m.len() == 2 && h.parse::<u8>().is_ok_and(|h| h < 24) && m.parse::<u8>().is_ok_and(|m| m < 60)
}

/// `field.subfield` paths: non-empty segments, no spaces.
pub fn check_field_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if path.split('.').any(|seg| seg.is_empty()) {
        return Err(format!("'{path}' has an empty segment; use field.subfield"));
    }
    if path.contains(char::is_whitespace) {
        return Err(format!("'{path}' must not contain spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_for_loopback_hosts() {
        for (url, ok) in [
            ("https://webexapis.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:9", true),
            ("http://[::1]:80/x", true),
            ("http://127.9.9.9", true),
            ("http://webexapis.com", false),
            ("http://10.0.0.1:80", false),
            ("http://127.0.0.1.evil.example", false),
            ("http://localhost@evil.example", false),
        ] {
            assert_eq!(check_url("source.api_url", url).is_ok(), ok, "{url}");
        }
        let e = check_url("wfo.api_url", "http://tenant.example")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wfo.api_url") && e.contains("https://"), "{e}");
    }

    const GOOD: &str = r#"
id = "acme-calling"
acd_name = "Acme Webex Calling"
kind = "webex-calling"
acd_server_id = 3

[source]
api_url = "https://webexapis.com"
tenant_id = "org-1"
username = "admin@acme.example"
client_id = "C123"
client_secret = "s3cr3t-client"

[wfo]
api_url = "https://tenant.example-wfo.com"
username = "api-user@acme.example"
password = "wfo-pass-9"

[features]
webhook = true

[[metadata_mapping]]
acd_field = "serviceData.callRecordingId"
label = "Recording Id"
"#;

    fn with(replace: &str, by: &str) -> Result<ConnectorConfig, ConfigError> {
        ConnectorConfig::from_toml(&GOOD.replace(replace, by))
    }

    #[test]
    fn the_documented_example_parses_with_defaults() {
        let c = ConnectorConfig::from_toml(GOOD).unwrap();
        assert_eq!(c.kind, ConnectorKind::WebexCalling);
        assert_eq!(c.source.identity_url, DEFAULT_IDENTITY_URL);
        assert_eq!(c.sync.interval_minutes, 30);
        assert!(c.features.media_import && c.features.webhook && !c.features.qm_digital);
        assert!(c.scopes().contains(&"spark-compliance:recordings_read".to_owned()));
    }

    #[test]
    fn bad_id_is_named() {
        let e = with("id = \"acme-calling\"", "id = \"Acme Calling\"").unwrap_err();
        assert!(e.to_string().starts_with("id: "), "{e}");
    }

    #[test]
    fn unknown_field_is_rejected_with_its_name() {
        let e = with("webhook = true", "webhook = true\nwebhooks = false").unwrap_err();
        assert!(e.to_string().contains("webhooks"), "{e}");
    }

    #[test]
    fn missing_client_secret_for_oauth_kind_is_named() {
        let e = with("client_secret = \"s3cr3t-client\"", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "source.client_secret: required for kind = \"webex-calling\" (OAuth integration)"
        );
    }

    fn contact_center(api_url: &str) -> String {
        GOOD.replace("webex-calling", "webex-cc-2").replace(
            "api_url = \"https://webexapis.com\"",
            &format!("api_url = \"{api_url}\""),
        )
    }

    #[test]
    fn contact_center_interval_below_ten_minutes_is_rejected() {
        let text = contact_center("https://api.wxcc-us1.cisco.com") + "\n[sync]\ninterval_minutes = 5\n";
        let e = ConnectorConfig::from_toml(&text).unwrap_err();
        assert!(e.to_string().starts_with("sync.interval_minutes"), "{e}");
        assert!(e.to_string().contains("between 10 and 1440"), "{e}");
        let ok = contact_center("https://api.wxcc-us1.cisco.com") + "\n[sync]\ninterval_minutes = 10\n";
        assert_eq!(ConnectorConfig::from_toml(&ok).unwrap().sync.interval_minutes, 10);
    }

    #[test]
    fn contact_center_api_url_is_a_known_region_or_a_private_host() {
        for ok in [
            "https://api.wxcc-us1.cisco.com",
            "https://api.wxcc-eu2.cisco.com/",
            "https://api.wxcc-anz1.cisco.com",
            "https://wxcc.private.example",
            "http://127.0.0.1:9000",
        ] {
            assert!(ConnectorConfig::from_toml(&contact_center(ok)).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("https://api.wxcc-xx9.cisco.com", "unknown Contact Center region 'xx9'"),
            (
                "https://portal.wxcc-us1.cisco.com",
                "use https://api.wxcc-us1.cisco.com",
            ),
            ("https://webexapis.com", "the global Webex API"),
            ("https://api.wxcc-us1.cisco.com/v1", "no path"),
        ] {
            let e = ConnectorConfig::from_toml(&contact_center(bad))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("source.api_url") && e.contains(says), "{bad}: {e}");
        }
        let e = ConnectorConfig::from_toml(&contact_center("https://api.wxcc-xx9.cisco.com"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("https://api.wxcc-eu1.cisco.com"), "names the regions: {e}");
    }

    #[test]
    fn metadata_path_with_empty_segment_is_rejected() {
        let e = with("serviceData.callRecordingId", "serviceData..callRecordingId").unwrap_err();
        assert!(e.to_string().starts_with("metadata_mapping[0].acd_field"), "{e}");
    }

    #[test]
    fn recapture_time_must_be_wall_clock() {
        let e = ConnectorConfig::from_toml(&(GOOD.to_owned() + "\n[sync]\nrecapture_time = \"25:00\"\n")).unwrap_err();
        assert!(e.to_string().starts_with("sync.recapture_time"), "{e}");
    }

    #[test]
    fn redacted_copy_hides_every_secret_and_debug_too() {
        let c = ConnectorConfig::from_toml(GOOD).unwrap();
        let shown = c.redacted().to_string();
        assert!(
            !shown.contains("s3cr3t-client") && !shown.contains("wfo-pass-9"),
            "{shown}"
        );
        assert!(shown.contains("********"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t-client") && !dbg.contains("wfo-pass-9"), "{dbg}");
    }

    #[test]
    fn webex_cc_1_needs_media_api_and_key() {
        let text = GOOD.replace("webex-calling", "webex-cc-1");
        let e = ConnectorConfig::from_toml(&text).unwrap_err();
        assert!(e.to_string().starts_with("source.media_api_url"), "{e}");
    }
}
