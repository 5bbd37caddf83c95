//! MPEG audio frames found by hand, in the bytes as they arrive: the hot loop of
//! [`crate::slice_mp3`].
//!
//! # What this is
//!
//! A push parser over whatever contiguous bytes the caller has ([`Scanner::step`] takes a
//! view and says what its front is): a frame (whose bytes the caller can hand on as a slice
//! of its input chunk), bytes to skip (an ID3v2 tag, junk, a Xing/Info/VBRI frame), or how
//! many bytes it needs to decide. It never copies and never allocates; the caller keeps the
//! only copy there is (a frame split across two input chunks).
//!
//! # Same frames as symphonia, decision for decision
//!
//! The symphonia-based reader (`crate::frames`) stays the oracle: the property tests in
//! `tests/scanner_oracle.rs` check that both emit the same bytes and fail the same way for
//! random streams, junk and chunkings. To make that hold, this parser reproduces what
//! `symphonia-bundle-mp3` 0.5 (`MpaReader` with default options) does:
//!
//! - **Sync**: the first position whose four bytes have the 11-bit sync and pass the quick
//!   check (version ≠ reserved, layer ≠ reserved, bitrate ≠ 15, sample rate ≠ 3). A word
//!   the full header parse then refuses (free bitrate, a Layer II bitrate/mode pair the
//!   standard forbids) is skipped whole: the search goes on four bytes later.
//! - **The first frame** (strict): it must be followed by the end of the input or by a
//!   header of the same version, layer, sample rate and channel count; otherwise the search
//!   goes on one byte after its start. A first frame cut by the end of the input is not
//!   retried: the stream is not MP3. The first frame's sample rate is the unit of all
//!   timestamps.
//! - **Later frames** are taken as they sync (no look-ahead); a frame cut by the end of the
//!   input ends the audio.
//! - **Xing/Info** (Layer III, zero side information, tag id after it, and the frame long
//!   enough for the fields its flags announce) and **VBRI** (Layer III, zeros up to byte
//!   36, `VBRI`, version 1) frames carry no audio: skipped wherever they are, not counted.
//! - **ID3v2 tags** in front of the first frame are skipped by counting, and the search
//!   for the first frame may look at [`SYNC_SEARCH_LIMIT`] bytes past the last tag: bytes
//!   beyond that are, for the search, as if the input ended there.

use crate::frames::{SYNC_SEARCH_LIMIT, id3v2_tag_len};

/// Bytes of an MPEG audio frame header.
pub(crate) const HEADER_LEN: usize = 4;

/// The fields of a frame header the scanner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Version bits: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5.
    version: u8,
    /// Layer bits: 1 = Layer III, 2 = Layer II, 3 = Layer I.
    layer: u8,
    mono: bool,
    /// Whole frame, header included.
    pub len: usize,
    /// Samples per channel the frame carries.
    pub samples: u64,
    pub sample_rate: u32,
}

const BITRATES_V1_L1: [u32; 15] = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448];
const BITRATES_V1_L2: [u32; 15] = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384];
const BITRATES_V1_L3: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2_L1: [u32; 15] = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256];
const BITRATES_V2_L23: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// The 11 sync bits are set.
#[inline]
fn synced(word: u32) -> bool {
    word & 0xffe0_0000 == 0xffe0_0000
}

/// The quick plausibility check made at every sync (no reserved version, layer, bitrate
/// or sample rate).
#[inline]
fn plausible(word: u32) -> bool {
    (word >> 19) & 3 != 1 && (word >> 17) & 3 != 0 && (word >> 12) & 0xf != 0xf && (word >> 10) & 3 != 3
}

impl Header {
    /// The full parse of a header word that passed [`plausible`]; `None` for free bitrate
    /// and for the Layer II bitrate/mode pairs the standard forbids.
    pub(crate) fn parse(word: u32) -> Option<Header> {
        let version = ((word >> 19) & 3) as u8;
        let layer = ((word >> 17) & 3) as u8;
        let bitrate_index = ((word >> 12) & 0xf) as usize;
        let rate_index = ((word >> 10) & 3) as usize;
        if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let mpeg1 = version == 3;
        let table = match (mpeg1, layer) {
            (true, 3) => &BITRATES_V1_L1,
            (true, 2) => &BITRATES_V1_L2,
            (true, _) => &BITRATES_V1_L3,
            (false, 3) => &BITRATES_V2_L1,
            (false, _) => &BITRATES_V2_L23,
        };
        let bitrate = table[bitrate_index] * 1000;
        let base_rate = [44_100, 48_000, 32_000][rate_index];
        let sample_rate = match version {
            3 => base_rate,
            2 => base_rate / 2,
            _ => base_rate / 4,
        };
        let mono = (word >> 6) & 3 == 3;
        if layer == 2 {
            let forbidden = if mono {
                matches!(bitrate, 224_000 | 256_000 | 320_000 | 384_000)
            } else {
                matches!(bitrate, 32_000 | 48_000 | 56_000 | 80_000)
            };
            if forbidden {
                return None;
            }
        }
        let padding = (word >> 9) & 1;
        let (factor, slot, samples) = match layer {
            3 => (12, 4, 384),
            2 => (144, 1, 1152),
            _ if mpeg1 => (144, 1, 1152),
            _ => (72, 1, 576),
        };
        let len = ((factor * bitrate / sample_rate + padding) * slot) as usize;
        Some(Header {
            version,
            layer,
            mono,
            len,
            samples,
            sample_rate,
        })
    }

    /// Same version, layer, sample rate and channel count: what the first frame's successor
    /// must have.
    fn similar(&self, other: &Header) -> bool {
        self.version == other.version
            && self.layer == other.layer
            && self.sample_rate == other.sample_rate
            && self.mono == other.mono
    }

    /// Length of the side information after the header (Layer III), where a Xing/Info tag
    /// starts.
    fn side_info_len(&self) -> usize {
        match (self.version == 3, self.mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        }
    }

    /// Whether `frame` (this header's whole frame) is a Xing/Info or VBRI frame: no audio.
    fn is_tag_frame(&self, frame: &[u8]) -> bool {
        if self.layer != 1 {
            return false;
        }
        let at = HEADER_LEN + self.side_info_len();
        if let Some(id) = frame.get(at..at + 4)
            && (id == b"Xing" || id == b"Info")
        {
            if frame[HEADER_LEN..at].iter().any(|byte| *byte != 0) {
                return false;
            }
            let Some(flags) = frame.get(at + 4..at + 8) else {
                return false;
            };
            let flags = flags[3];
            let fields = 4 * usize::from(flags & 1 != 0)
                + 4 * usize::from(flags & 2 != 0)
                + 100 * usize::from(flags & 4 != 0)
                + 4 * usize::from(flags & 8 != 0);
            return frame.len() >= at + 8 + fields;
        }
        frame.len() >= 62
            && &frame[36..40] == b"VBRI"
            && frame[40..42] == [0, 1]
            && frame[4..36].iter().all(|b| *b == 0)
    }
}

/// Reads the header word at the front of `bytes` (at least four bytes).
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Position of the first plausible sync in `bytes`, if a whole header word is there.
#[inline]
fn find_sync(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while from + HEADER_LEN <= bytes.len() {
        let at = from + bytes[from..bytes.len() - 3].iter().position(|byte| *byte == 0xff)?;
        let word = word_at(bytes, at);
        if synced(word) && plausible(word) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// What the front of a view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// These bytes carry no audio (junk, a tag, a rejected sync, a Xing/Info/VBRI frame);
    /// may be more than the view holds (an ID3v2 tag is skipped by counting).
    Skip(u64),
    /// An audio frame: the view's first `header.len` bytes.
    Frame(Header),
    /// The view must hold at least this many bytes to decide.
    Need(usize),
    /// The audio has ended (the end of the input, or a frame cut short by it).
    End,
    /// The input is not MPEG audio: no (acceptable) first frame before the end of the
    /// input or of the search limit.
    NotMp3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Tags,
    FirstFrame,
    Frames,
}

/// The parser's state between views: what it is looking for, the search limit, and the
/// stream's sample rate once the first frame is known.
#[derive(Debug)]
pub(crate) struct Scanner {
    phase: Phase,
    /// Until the first frame: the absolute input position the search may not look past.
    deadline: u64,
    sample_rate: Option<u32>,
}

impl Scanner {
    pub(crate) fn new() -> Self {
        Scanner {
            phase: Phase::Tags,
            deadline: SYNC_SEARCH_LIMIT,
            sample_rate: None,
        }
    }

    /// The sample rate of the first frame (the unit of timestamps), once it is found.
    pub(crate) fn sample_rate(&self) -> Option<u32> {
        self.sample_rate
    }

    /// Until the first frame is found, the absolute position the search may not look past
    /// (the caller shows no byte from there on, and calls that the end of the input).
    pub(crate) fn limit(&self) -> Option<u64> {
        (self.phase != Phase::Frames).then_some(self.deadline)
    }

    /// What the front of `view` is. `at` is the absolute input position of `view[0]`, and
    /// `end` says that nothing follows `view` (the input, or the search, ends there).
    pub(crate) fn step(&mut self, view: &[u8], at: u64, end: bool) -> Step {
        match self.phase {
            Phase::Frames => self.next_frame(view, end),
            Phase::Tags => {
                let Some(head) = view.first_chunk::<10>() else {
                    return if end { Step::NotMp3 } else { Step::Need(10) };
                };
                match id3v2_tag_len(head) {
                    Some(len) => {
                        self.deadline = (at + len).saturating_add(SYNC_SEARCH_LIMIT);
                        Step::Skip(len)
                    }
                    None => {
                        self.phase = Phase::FirstFrame;
                        self.first_frame(view, end)
                    }
                }
            }
            Phase::FirstFrame => self.first_frame(view, end),
        }
    }

    /// The hot path, once the first frame is known: the audio frame at the front of `view`
    /// when it is whole, plainly synced (no junk before it) and not a Xing/Info/VBRI
    /// frame; `None` for anything else, which [`Scanner::step`] then decides. `last`
    /// caches the header word seen last (a stream repeats one or two words), so most
    /// frames cost a comparison instead of a parse.
    #[inline]
    pub(crate) fn plain_frame(&self, view: &[u8], last: &mut (u32, Option<Header>)) -> Option<Header> {
        if self.phase != Phase::Frames || view.len() < HEADER_LEN {
            return None;
        }
        let word = word_at(view, 0);
        let header = if word == last.0 {
            last.1?
        } else {
            if !(synced(word) && plausible(word)) {
                return None;
            }
            let header = Header::parse(word);
            *last = (word, header);
            header?
        };
        let frame = view.get(..header.len)?;
        if header.is_tag_frame(frame) {
            return None;
        }
        Some(header)
    }

    /// The sync at the front of `view`, or what to skip or need to find one. `Ok(header)`
    /// only for a sync at `view[0]` that parses.
    #[inline]
    fn sync(view: &[u8], end: bool) -> Result<Header, Step> {
        if view.len() >= HEADER_LEN {
            let word = word_at(view, 0);
            if synced(word) && plausible(word) {
                return Header::parse(word).ok_or(Step::Skip(HEADER_LEN as u64));
            }
        }
        match find_sync(view) {
            Some(at) => Err(Step::Skip(at as u64)),
            None if end => Err(Step::End),
            // Keep the last three bytes: they may start a header.
            None => match view.len().checked_sub(HEADER_LEN - 1) {
                Some(junk) if junk > 0 => Err(Step::Skip(junk as u64)),
                _ => Err(Step::Need(HEADER_LEN)),
            },
        }
    }

    fn first_frame(&mut self, view: &[u8], end: bool) -> Step {
        let header = match Self::sync(view, end) {
            Ok(header) => header,
            Err(Step::End) => return Step::NotMp3,
            Err(step) => return step,
        };
        let next = header.len + HEADER_LEN;
        if view.len() < header.len {
            return if end { Step::NotMp3 } else { Step::Need(next) };
        }
        if view.len() < next && !end {
            return Step::Need(next);
        }
        if view.len() >= next {
            let word = word_at(view, header.len);
            let follows = synced(word) && Header::parse(word).is_some_and(|h| h.similar(&header));
            if !follows {
                return Step::Skip(1);
            }
        }
        self.phase = Phase::Frames;
        self.sample_rate = Some(header.sample_rate);
        if header.is_tag_frame(&view[..header.len]) {
            Step::Skip(header.len as u64)
        } else {
            Step::Frame(header)
        }
    }

    #[inline]
    fn next_frame(&self, view: &[u8], end: bool) -> Step {
        let header = match Self::sync(view, end) {
            Ok(header) => header,
            Err(step) => return step,
        };
        if view.len() < header.len {
            return if end { Step::End } else { Step::Need(header.len) };
        }
        if header.is_tag_frame(&view[..header.len]) {
            Step::Skip(header.len as u64)
        } else {
            Step::Frame(header)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_iii_frame_lengths_and_durations() {
        // MPEG-2 Layer III, 32 kbit/s, 16 kHz, mono: 144 bytes, 576 samples.
        let h = Header::parse(0xfff3_48c0).expect("valid");
        assert_eq!((h.len, h.samples, h.sample_rate), (144, 576, 16_000));
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, padded: 418 bytes, 1152 samples.
        let h = Header::parse(0xfffb_9240).expect("valid");
        assert_eq!((h.len, h.samples, h.sample_rate), (418, 1152, 44_100));
    }

    #[test]
    fn layer_i_counts_four_byte_slots_and_layer_ii_forbids_some_pairs() {
        // MPEG-1 Layer I, 448 kbit/s, 32 kHz, padded: (168 + 1) × 4 bytes, 384 samples.
        let h = Header::parse(0xffff_ea00).expect("valid");
        assert_eq!((h.len, h.samples), (676, 384));
        // MPEG-1 Layer II, 32 kbit/s, stereo: not allowed.
        assert_eq!(Header::parse(0xfffd_1000), None);
        // Free bitrate is not supported.
        assert_eq!(Header::parse(0xfffb_0000), None);
    }

    #[test]
    fn the_sync_search_keeps_a_possible_header_start() {
        assert_eq!(Scanner::sync(b"abcdefg\xff", false), Err(Step::Skip(5)));
        assert_eq!(Scanner::sync(b"ab", false), Err(Step::Need(4)));
        assert_eq!(Scanner::sync(b"ab", true), Err(Step::End));
        assert_eq!(Scanner::sync(b"xx\xff\xf3\x48\xc0", false), Err(Step::Skip(2)));
    }
}
