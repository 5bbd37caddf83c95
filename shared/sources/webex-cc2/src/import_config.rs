//! What a Contact Center import (2.0 tasks, 1.0 sessions) reads from its connector's
//! configuration, the gate every ended interaction passes before it is planned (the
//! capture delay, then Quality Management Voice / Digital) and a digital contact's
//! language. One place for both versions,
//! so the two imports cannot drift apart on when an interaction is looked at or skipped.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use wfo_domain::config::{ConnectorConfig, Features, LanguageConfig};
use wfo_ports::{ItemPlan, SourceError};

/// The import's settings from the connector's configuration.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// `sync.capture_delay_minutes`: how long after its end an interaction is planned.
    pub capture_delay: Duration,
    pub features: Features,
    pub language: Option<LanguageConfig>,
    /// `(acd_field, label)` of each `[[metadata_mapping]]`.
    pub mapping: Vec<(String, String)>,
}

/// What the gate says of one ended interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Plan it: whether it is a voice interaction, and when it became ready (its end plus
    /// the capture delay).
    Plan { voice: bool, ready_at: DateTime<Utc> },
    /// Not imported, for this reason (the plan's `skipped` line): its product is off.
    Skip(String),
}

impl Gate {
    /// `Ok((voice, ready_at))` to plan the interaction; for a skipped one, `Err` with its
    /// finished plan (the `skipped` line, and the `notes` gathered so far, taken).
    pub fn or_skip(self, id: &str, notes: &mut Vec<String>) -> Result<(bool, DateTime<Utc>), Box<ItemPlan>> {
        match self {
            Gate::Plan { voice, ready_at } => Ok((voice, ready_at)),
            Gate::Skip(line) => Err(Box::new(ItemPlan {
                interaction_id: Some(id.to_owned()),
                skipped: vec![line],
                notes: std::mem::take(notes),
                ..Default::default()
            })),
        }
    }
}

impl ImportConfig {
    pub fn from_config(cfg: &ConnectorConfig) -> Self {
        Self {
            capture_delay: Duration::minutes(i64::from(cfg.sync.capture_delay_minutes)),
            features: cfg.features.clone(),
            language: cfg.language.clone(),
            mapping: cfg
                .metadata_mapping
                .iter()
                .map(|m| (m.acd_field.clone(), m.label.clone()))
                .collect(),
        }
    }

    /// The language of a digital contact, in the guide's order: one the interaction
    /// (`doc`: a task, a session's CSR) carries, the value of the `[language]
    /// metadata_label` mapping, the fallback, English.
    pub fn language_of(&self, doc: &Value) -> String {
        if let Some(l) = doc
            .get("language")
            .and_then(Value::as_str)
            .filter(|l| !l.trim().is_empty())
        {
            return l.trim().to_owned();
        }
        let lang = self.language.as_ref();
        if let Some(label) = lang.and_then(|l| l.metadata_label.as_deref())
            && let Some((path, _)) = self
                .mapping
                .iter()
                .find(|(_, l)| l.trim().eq_ignore_ascii_case(label.trim()))
            && let Some(v) = wfo_domain::mapping::lookup(doc, path).and_then(Value::as_str)
            && !v.trim().is_empty()
        {
            return v.trim().to_owned();
        }
        lang.map(|l| l.fallback.trim().to_owned())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "en".to_owned())
    }

    /// The gate of interaction `id` (a `noun`: "task", "session") that ended at `ended`
    /// on `channel` (`telephony`/`voice`, or none: voice; anything else is digital): not
    /// ready while it has not ended or is inside the capture delay (retried at the
    /// delay's end), skipped when its Quality Management product is off.
    pub fn gate(
        &self,
        noun: &str,
        id: &str,
        ended: Option<DateTime<Utc>>,
        channel: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Gate, SourceError> {
        let Some(ended) = ended else {
            return Err(SourceError::NotReady(format!("{noun} {id} has not ended yet")));
        };
        let ready_at = ended + self.capture_delay;
        if ready_at > now {
            return Err(SourceError::NotReadyUntil {
                message: format!(
                    "{noun} {id} ended less than the capture delay ({} min) ago",
                    self.capture_delay.num_minutes()
                ),
                at: ready_at,
            });
        }
        let channel = channel.map(str::to_ascii_lowercase);
        let voice = matches!(channel.as_deref(), None | Some("telephony") | Some("voice"));
        let off = if voice && !self.features.qm_voice {
            Some("Quality Management Voice is off (features.qm_voice = false)")
        } else if !voice && !self.features.qm_digital {
            Some("Quality Management Digital is off (features.qm_digital = false)")
        } else {
            None
        };
        Ok(match off {
            Some(why) => {
                let kind = if voice { "voice" } else { "digital" };
                Gate::Skip(format!("{noun} {id}: not imported, a {kind} {noun}: {why}"))
            }
            None => Gate::Plan { voice, ready_at },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(qm_voice: bool, qm_digital: bool) -> ImportConfig {
        ImportConfig {
            capture_delay: Duration::minutes(5),
            features: Features {
                qm_voice,
                qm_digital,
                ..Features::default()
            },
            language: None,
            mapping: Vec::new(),
        }
    }

    #[test]
    fn an_interaction_waits_for_its_end_and_the_capture_delay() {
        let now = Utc::now();
        let c = config(true, true);
        assert!(matches!(
            c.gate("task", "t1", None, None, now),
            Err(SourceError::NotReady(m)) if m == "task t1 has not ended yet"
        ));
        let ended = now - Duration::minutes(2);
        match c.gate("session", "s1", Some(ended), Some("telephony"), now) {
            Err(SourceError::NotReadyUntil { message, at }) => {
                assert_eq!(at, ended + Duration::minutes(5));
                assert_eq!(message, "session s1 ended less than the capture delay (5 min) ago");
            }
            other => panic!("{other:?}"),
        }
        let ended = now - Duration::minutes(6);
        assert_eq!(
            c.gate("task", "t1", Some(ended), None, now).unwrap(),
            Gate::Plan {
                voice: true,
                ready_at: ended + Duration::minutes(5)
            }
        );
    }

    #[test]
    fn voice_and_digital_follow_their_quality_management_product() {
        let now = Utc::now();
        let ended = Some(now - Duration::hours(1));
        for channel in [None, Some("telephony"), Some("Voice")] {
            assert!(matches!(
                config(true, false).gate("task", "t", ended, channel, now),
                Ok(Gate::Plan { voice: true, .. })
            ));
            assert_eq!(
                config(false, true).gate("task", "t", ended, channel, now).unwrap(),
                Gate::Skip(
                    "task t: not imported, a voice task: Quality Management Voice is off (features.qm_voice = false)"
                        .to_owned()
                )
            );
        }
        assert!(matches!(
            config(false, true).gate("session", "s", ended, Some("chat"), now),
            Ok(Gate::Plan { voice: false, .. })
        ));
        assert_eq!(
            config(true, false).gate("session", "s", ended, Some("email"), now).unwrap(),
            Gate::Skip(
                "session s: not imported, a digital session: Quality Management Digital is off (features.qm_digital = false)"
                    .to_owned()
            )
        );
    }
}
