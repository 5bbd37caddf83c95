//! The fuzz targets: one function per parser of outside bytes, each calling the
//! production entry point.
//!
//! A target takes the raw input, must not panic, and checks what the code under test
//! promises (with `assert!`: a failed check is a panic, reported like any other). It
//! returns a short *outcome class* (`"ok:2"`, `"err:missing:serviceData"`, …): the runner
//! keeps an input that produced a class not seen before as a new corpus entry, which
//! steers mutation towards deeper paths without coverage instrumentation.

pub mod audio;
pub mod contact_center;
pub mod conversation;
pub mod domain;
pub mod metadata;
pub mod webhook;

use crate::mutate::Flavour;

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// The production functions it reaches.
    pub entry: &'static str,
    pub flavour: Flavour,
    /// Longest input made for it.
    pub max_len: usize,
    pub run: fn(&[u8]) -> String,
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Relative cost: the short test runs `inputs / weight` inputs of it.
    pub weight: usize,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

const KIB: usize = 1024;

/// Every target, in a stable order.
pub const ALL: &[Target] = &[
    Target {
        name: "webhook_event",
        entry: "wfo_webex_calling::parse_webhook_event",
        flavour: Flavour::Json,
        max_len: 256 * KIB,
        run: webhook::webhook_event,
        seeds: webhook::event_seeds,
        weight: 1,
    },
    Target {
        name: "webhook_signature",
        entry: "wfo_webex_calling::verify_signature",
        flavour: Flavour::Text,
        max_len: 64 * KIB,
        run: webhook::webhook_signature,
        seeds: webhook::signed_seeds,
        weight: 1,
    },
    Target {
        name: "webhook_delivery",
        entry: "WebexCallingKind::parse_delivery (SourceKind)",
        flavour: Flavour::Json,
        max_len: 256 * KIB,
        run: webhook::webhook_delivery,
        seeds: webhook::signed_seeds,
        weight: 1,
    },
    Target {
        name: "wxcc2_task",
        entry: "WebexCc2Kind::segment_file, segment_webex_cc2_detailed",
        flavour: Flavour::Json,
        max_len: 256 * KIB,
        run: contact_center::wxcc2_task,
        seeds: contact_center::wxcc2_seeds,
        weight: 1,
    },
    Target {
        name: "wxcc1_session",
        entry: "WebexCc1Kind::segment_file, records::task_file, read_dataset, config::read_page",
        flavour: Flavour::Json,
        max_len: 256 * KIB,
        run: contact_center::wxcc1_session,
        seeds: contact_center::wxcc1_seeds,
        weight: 1,
    },
    Target {
        name: "webex_metadata",
        entry: "parse_webex_calling, segment_webex_calling(_detailed), SourceKind::segment_file",
        flavour: Flavour::Json,
        max_len: 512 * KIB,
        run: metadata::webex_metadata,
        seeds: metadata::metadata_seeds,
        weight: 1,
    },
    Target {
        name: "webex_models",
        entry: "serde decoding of RecordingSummary, RecordingDetails, WebexPerson, License, RosterMember, CallRecordingSetting, Me, Webhook",
        flavour: Flavour::Json,
        max_len: 256 * KIB,
        run: metadata::webex_models,
        seeds: metadata::model_seeds,
        weight: 1,
    },
    Target {
        name: "webex_ids",
        entry: "canonical_webex_id, decode_webex_id, normalize_user_id, normalize_number, parse_timestamp, parse_datetime",
        flavour: Flavour::Text,
        max_len: 16 * KIB,
        run: metadata::webex_ids,
        seeds: metadata::id_seeds,
        weight: 1,
    },
    Target {
        name: "connector_toml",
        entry: "ConnectorConfig::from_toml (+ the stores' JSON round trip)",
        flavour: Flavour::Text,
        max_len: 64 * KIB,
        run: domain::connector_toml,
        seeds: domain::toml_seeds,
        weight: 1,
    },
    Target {
        name: "wfo_messages",
        entry: "wfo_messages::parse_unknown_agent, parse_metadata_key, ErrorBody",
        flavour: Flavour::Text,
        max_len: 16 * KIB,
        run: domain::wfo_messages,
        seeds: domain::message_seeds,
        weight: 1,
    },
    Target {
        name: "http_headers",
        entry: "wfo_http::next_link, wfo_http::parse_retry_after",
        flavour: Flavour::Text,
        max_len: 16 * KIB,
        run: domain::http_headers,
        seeds: domain::header_seeds,
        weight: 1,
    },
    Target {
        name: "redact",
        entry: "redact_secrets, redact_url_queries",
        flavour: Flavour::Text,
        max_len: 64 * KIB,
        run: domain::redact,
        seeds: domain::redact_seeds,
        weight: 1,
    },
    Target {
        name: "mp3_duration",
        entry: "wfo_audio::mp3_duration_ms (FrameReader: ID3v2 skip, first-frame search, symphonia MpaReader)",
        flavour: Flavour::Mp3,
        max_len: 1024 * KIB,
        run: audio::mp3_duration,
        seeds: audio::mp3_seeds,
        weight: 2,
    },
    Target {
        name: "mp3_slice",
        entry: "wfo_audio::slice_mp3_with_stats",
        flavour: Flavour::Mp3,
        max_len: 1024 * KIB,
        run: audio::mp3_slice,
        seeds: audio::slice_seeds,
        weight: 3,
    },
    Target {
        name: "wav_slice",
        entry: "wfo_audio::slice_wav_with_stats (header push parser, cut at sample frames), wfo_audio::wav_format, wfo_audio::inspect",
        flavour: Flavour::Wav,
        max_len: 1024 * KIB,
        run: audio::wav_slice,
        seeds: audio::wav_seeds,
        weight: 3,
    },
    Target {
        name: "audio_counted",
        entry: "wfo_audio::with_expected_len, wfo_audio::counted",
        flavour: Flavour::Mp3,
        max_len: 256 * KIB,
        run: audio::audio_counted,
        seeds: audio::counted_seeds,
        weight: 1,
    },
    Target {
        name: "webex_list_items",
        entry: "WebexCallingSource::list_items (list pages, Link paging)",
        flavour: Flavour::Script,
        max_len: 256 * KIB,
        run: conversation::webex_list_items,
        seeds: conversation::list_seeds,
        weight: 4,
    },
    Target {
        name: "webex_plan",
        entry: "WebexCallingSource::plan (metadata answer)",
        flavour: Flavour::Script,
        max_len: 512 * KIB,
        run: conversation::webex_plan,
        seeds: conversation::plan_seeds,
        weight: 4,
    },
    Target {
        name: "webex_open_media",
        entry: "WebexCallingSource::open_media (details answer, audio download)",
        flavour: Flavour::Script,
        max_len: 256 * KIB,
        run: conversation::webex_open_media,
        seeds: conversation::media_seeds,
        weight: 4,
    },
    Target {
        name: "webex_list_users",
        entry: "WebexCallingSource::list_users (licenses, roster, people, recording settings)",
        flavour: Flavour::Script,
        max_len: 256 * KIB,
        run: conversation::webex_list_users,
        seeds: conversation::users_seeds,
        weight: 4,
    },
    Target {
        name: "webex_identity",
        entry: "WebexCallingSource::identity (people/me)",
        flavour: Flavour::Script,
        max_len: 64 * KIB,
        run: conversation::webex_identity,
        seeds: conversation::identity_seeds,
        weight: 4,
    },
    Target {
        name: "webex_ensure_webhook",
        entry: "WebexCallingSource::ensure_webhook (webhook list, create, update)",
        flavour: Flavour::Script,
        max_len: 64 * KIB,
        run: conversation::webex_ensure_webhook,
        seeds: conversation::webhook_seeds,
        weight: 4,
    },
    Target {
        name: "wfo_answers",
        entry: "WfoClient (every WfoApi call, login, 401 re-login, error classification), ensure_contact, ensure_agent_person",
        flavour: Flavour::Script,
        max_len: 256 * KIB,
        run: conversation::wfo_answers,
        seeds: conversation::wfo_seeds,
        weight: 4,
    },
    Target {
        name: "oauth_token",
        entry: "wfo_pipeline::auth::exchange_code (token answer of the identity service)",
        flavour: Flavour::Script,
        max_len: 64 * KIB,
        run: conversation::oauth_token,
        seeds: conversation::oauth_seeds,
        weight: 4,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

/// This thread's tokio runtime (current-thread, IO and timers), made once and kept: the
/// audio targets block on the slicer, the conversation targets on the clients and the
/// loopback server.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    thread_local! {
        static RT: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        ));
    }
    RT.with(|rt| *rt)
}
