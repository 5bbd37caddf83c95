//! Webex Calling: the first source behind the Source port ([`WebexCallingKind`],
//! [`WebexCallingSource`]), and its client.
//!
//! - [`WebexCallingClient`]: converged recordings (list in ≤30-day windows with `Link`
//!   pagination, details, raw metadata with `showAllTypes=true`, streaming MP3
//!   download) and the webhooks API. Methods take a bearer access token.
//! - [`verify_signature`] / [`parse_webhook_event`]: webhook deliveries.
//! - [`parser`]: recording metadata → the normalized call timeline, with every working
//!   assumption in its `ASSUMPTIONS` table, and the segmentation entry points.
//! - [`webex_id_to_uuid`]: base64 Webex ids to the plain UUIDs used in recordings.
//! - People, Licenses, the call-recording roster (`vendorUsers`) and per-person
//!   call-recording settings for the user sync (reference §5).
//!
//! All HTTP goes through `wfo_http` (one retry policy); errors are [`WebexError`],
//! which says whether a retry can help. Facts and assumptions: the shared reference
//! `webex-calling-api.md` §1–§3, §5.5, §7, §8.

mod client;
mod delivery;
mod download;
pub mod eligibility;
mod error;
mod ids;
mod lenient;
mod model;
pub mod parser;
mod people;
mod preflight;
mod source;
mod users;
mod webhooks;

pub use client::{
    DEFAULT_API_URL, ListQuery, MAX_PAGE_SIZE, MAX_WINDOW, Page, TRACKING_HEADER, WebexCallingClient, Window,
    format_time, split_window,
};
pub use delivery::{
    SPARK_SIGNATURE_HEADER, SignatureError, WEBEX_SIGNATURE_HEADER, WebhookEvent, WebhookEventError,
    parse_webhook_event, sign_spark, sign_webex_sha256, verify_signature,
};
pub use download::{AUDIO_LINK_SELF_AUTHORISING, AudioDownload, LINK_SAFETY_MARGIN};
pub use error::WebexError;
pub use ids::{people_rest_id, webex_id_to_uuid};
pub use lenient::parse_datetime;
pub use model::{
    DownloadLinks, LINK_LIFETIME, OwnerType, RecordingDetails, RecordingStatus, RecordingSummary, ServiceData,
    ServiceType,
};
pub use parser::{
    ASSUMPTIONS, WEBEX_CALLING_EXTERNAL_ID_PREFIX, WebexSegmentation, parse_webex_calling, segment_webex_calling,
    segment_webex_calling_detailed,
};
pub use people::{
    AUDIT_PAGE_SIZE, AuditEvent, AuditEventData, CallRecordingSetting, License, Me, PEOPLE_PAGE_SIZE,
    PROFESSIONAL_LICENSE_NAME, ROSTER_PAGE_SIZE, RecordMode, RecordingChange, RosterMember, SCOPE_AUDIT_EVENTS,
    WebexPerson, is_calling_professional, professional_license_ids,
};
pub use source::{WebexCallingKind, WebexCallingSource, webex_error};
pub use users::{CHANGE_FEED_KEY, NO_PROFESSIONAL_LICENSE, REQUIRED_SCOPES, VERDICTS_KEY};
pub use webhooks::{
    EVENT_CREATED, NewWebhook, OWNED_BY_ORG, RESOURCE_CONVERGED_RECORDINGS, Webhook, WebhookStatus, WebhookUpdate,
};
pub use wfo_http::RetryPolicy;
