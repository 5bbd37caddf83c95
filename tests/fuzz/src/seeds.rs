//! Seed inputs: the repository's real fixtures, and MP3 streams made here.
//!
//! The fixtures are compiled in (`include_dir`), so a run does not depend on the working
//! directory and the same binary always starts from the same corpus. MP3 seeds come from
//! `wfo_audio::synthetic` (silent frames of every MPEG version, mono and stereo, padded)
//! and from LAME (a real tone with a Xing/Info frame and an ID3v2 tag, as phone systems
//! and encoders write them).

use include_dir::{Dir, include_dir};
use mp3lame_encoder::{Bitrate, Builder, FlushGap, Id3Tag, MonoPcm, Quality};
use wfo_audio::synthetic::SilentMp3;

static FIXTURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../fixtures");

/// Every fixture file under `dir` (relative to `fixtures/`) whose name ends with `ext`,
/// sorted by path.
fn files(dir: &str, ext: &str) -> Vec<(String, &'static [u8])> {
    let mut out = Vec::new();
    let mut stack: Vec<&Dir<'static>> = match FIXTURES.get_dir(dir) {
        Some(d) => vec![d],
        None => Vec::new(),
    };
    while let Some(d) = stack.pop() {
        for f in d.files() {
            let path = f.path().to_string_lossy().into_owned();
            if path.ends_with(ext) {
                out.push((path, f.contents()));
            }
        }
        stack.extend(d.dirs());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Webex Calling recording metadata documents: every scenario recording, the malformed
/// documents and the OpenAPI example (not the `expected*.json` oracles).
pub fn metadata_documents() -> Vec<Vec<u8>> {
    files("webex-calling", ".json")
        .into_iter()
        .filter(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or_default();
            !name.starts_with("expected") && !path.ends_with("users.json") && !path.ends_with("context.json")
        })
        .map(|(_, bytes)| bytes.to_vec())
        .collect()
}

/// Contact Center fixtures of `kind_dir` (`webex-cc-2`, `webex-cc-1`): the payload files,
/// not the `expected*.json` oracles.
pub fn contact_center_documents(kind_dir: &str) -> Vec<Vec<u8>> {
    files(kind_dir, ".json")
        .into_iter()
        .filter(|(path, _)| !path.rsplit('/').next().unwrap_or_default().starts_with("expected"))
        .map(|(_, bytes)| bytes.to_vec())
        .collect()
}

/// Every JSON fixture, oracles included (varied shapes for the model decoders).
pub fn all_json() -> Vec<Vec<u8>> {
    files("", ".json").into_iter().map(|(_, b)| b.to_vec()).collect()
}

/// The connector TOML fixtures.
pub fn connector_tomls() -> Vec<Vec<u8>> {
    files("connectors", ".toml")
        .into_iter()
        .map(|(_, b)| b.to_vec())
        .collect()
}

/// The example connector (`fixtures/connectors/acme-calling.toml`) as text.
pub fn acme_connector_toml() -> &'static str {
    FIXTURES
        .get_file("connectors/acme-calling.toml")
        .and_then(|f| f.contents_utf8())
        .unwrap_or_default()
}

/// The webhook delivery body of the API Gateway fixture, and the fixture's other bodies.
pub fn webhook_bodies() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, bytes) in files("aws", ".json") {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
            && let Some(body) = v.get("body").and_then(|b| b.as_str())
        {
            out.push(body.as_bytes().to_vec());
        }
    }
    out
}

/// The scenario metadata documents' recording ids (plausible `data.id` values).
pub fn recording_ids() -> Vec<String> {
    metadata_documents()
        .iter()
        .filter_map(|d| serde_json::from_slice::<serde_json::Value>(d).ok())
        .filter_map(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        .collect()
}

/// Silent constant-bitrate streams of every MPEG version, padded and not, 3–40 frames.
pub fn silent_mp3s() -> Vec<Vec<u8>> {
    let shapes = [
        (16_000, 32, true, 30),
        (8_000, 8, true, 40),
        (11_025, 16, true, 12),
        (22_050, 64, false, 10),
        (44_100, 128, false, 8),
        (48_000, 320, false, 3),
        (32_000, 32, true, 5),
    ];
    shapes
        .iter()
        .filter_map(|&(rate, kbps, mono, frames)| SilentMp3::new(rate, kbps, mono).map(|s| s.bytes(frames)))
        .collect()
}

/// Real MP3 from LAME: a 440 Hz tone, mono, with LAME's Xing/Info frame and an ID3v2 tag
/// in one variant, bare in another. `None` if the encoder refuses (it should not).
pub fn lame_mp3(seconds: f64, sample_rate: u32, bitrate: Bitrate, info_frame: bool, id3: bool) -> Option<Vec<u8>> {
    let mut builder = Builder::new()?;
    builder.set_num_channels(1).ok()?;
    builder.set_sample_rate(sample_rate).ok()?;
    builder.set_brate(bitrate).ok()?;
    builder.set_quality(Quality::Good).ok()?;
    builder.set_to_write_vbr_tag(info_frame).ok()?;
    if id3 {
        builder
            .set_id3_tag(Id3Tag {
                title: b"Call 42",
                artist: b"Webex Calling",
                album: b"",
                album_art: &[],
                year: b"2026",
                comment: b"fuzz seed",
            })
            .ok()?;
    }
    let mut encoder = builder.build().ok()?;
    let samples = (seconds * f64::from(sample_rate)) as usize;
    let pcm: Vec<i16> = (0..samples)
        .map(|i| {
            let t = i as f64 / f64::from(sample_rate);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect();
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
    encoder.encode_to_vec(MonoPcm(&pcm), &mut out).ok()?;
    out.reserve(7200);
    encoder.flush_to_vec::<FlushGap>(&mut out).ok()?;
    if info_frame {
        let mut tag = Vec::with_capacity(encoder.lame_tag_size());
        encoder.lame_tag_encode_to_vec(&mut tag)?;
        let at = encoder.id3v2_tag_size();
        out.get_mut(at..at + tag.len())?.copy_from_slice(&tag);
    }
    Some(out)
}

/// Every MP3 seed: the silent streams and LAME tones (with and without Info frame and tag).
pub fn mp3s() -> Vec<Vec<u8>> {
    let mut out = silent_mp3s();
    out.extend(lame_mp3(1.0, 16_000, Bitrate::Kbps32, false, false));
    out.extend(lame_mp3(1.0, 16_000, Bitrate::Kbps64, true, false));
    out.extend(lame_mp3(0.5, 44_100, Bitrate::Kbps128, true, true));
    out.extend(lame_mp3(0.7, 8_000, Bitrate::Kbps16, false, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixtures_are_compiled_in() {
        assert!(metadata_documents().len() >= 20, "scenario and malformed documents");
        assert!(!connector_tomls().is_empty());
        assert!(!webhook_bodies().is_empty());
        assert!(acme_connector_toml().contains("webex-calling"));
        assert!(recording_ids().iter().any(|id| id.len() == 36));
    }

    #[test]
    fn mp3_seeds_include_lame_output_with_an_info_frame_and_a_tag() {
        let seeds = mp3s();
        assert!(seeds.len() >= 10);
        assert!(seeds.iter().any(|s| s.starts_with(b"ID3")));
        assert!(seeds.iter().any(|s| s.windows(4).any(|w| w == b"Info" || w == b"Xing")));
    }
}
