//! The input generator: mutations of corpus entries, deterministic from an [`Rng`].
//!
//! Without coverage feedback (see `docs/fuzzing.md`), the mutations carry the knowledge of
//! the formats instead:
//!
//! - **generic**: bit flips, random and "interesting" bytes and integers, insertion,
//!   deletion, duplication and copying of ranges, truncation, splicing two entries;
//! - **JSON-aware** ([`Flavour::Json`], [`Flavour::Script`]): the input is cut into JSON
//!   tokens (no full parse: it works on broken documents too) and a value is replaced by a
//!   huge or negative number, a float, a very long string, a lone surrogate, the wrong type,
//!   deeply nested arrays or objects, a random document; a member is duplicated (duplicate
//!   keys), deleted, or an array is made long; keys and strings are swapped for words of
//!   the domain (timestamps, ids, enum spellings);
//! - **answer-script-aware** ([`Flavour::Script`]): records of an HTTP answer script
//!   ([`crate::answers`]) are duplicated, dropped or swapped, statuses changed to the ones
//!   clients branch on, headers (`Link`, `Retry-After`, …) added;
//! - **MP3-aware** ([`Flavour::Mp3`]): frame headers corrupted field by field (version,
//!   layer, bitrate, sample rate, padding), fake syncs and sync-like junk inserted, frames
//!   duplicated, dropped or cut, ID3v2 tags with huge, too-large or invalid declared sizes
//!   put in front, Xing/Info/VBRI headers with absurd counts written into frames;
//! - **WAV-aware** ([`Flavour::Wav`]): RIFF chunk sizes set to boundary values (0, odd,
//!   one past the file, 0xFFFFFFFF), `fmt ` fields (format tag, channels, rate, bits,
//!   block align, extensible sub-format) set to edge and compressed values, unknown
//!   chunks with any declared size put in front of `data`, chunks swapped or cut;
//! - **text** ([`Flavour::Text`]): words of the format (TOML keys and tables, header
//!   syntax, secret field names, URL schemes) inserted or overwritten.
//!
//! Every result is at most [`Mutator::max_len`] bytes.

use crate::rng::Rng;

/// Which format-aware mutations apply to a target's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A JSON document (or bytes meant to be one).
    Json,
    /// An HTTP answer script: JSON bodies behind status and header lines.
    Script,
    /// MPEG audio.
    Mp3,
    /// RIFF/WAVE audio.
    Wav,
    /// Other text: TOML, header values, ids, error messages.
    Text,
}

/// Makes new inputs from a corpus.
#[derive(Debug, Clone)]
pub struct Mutator {
    pub flavour: Flavour,
    /// The longest input made.
    pub max_len: usize,
}

impl Mutator {
    pub fn new(flavour: Flavour, max_len: usize) -> Self {
        Mutator { flavour, max_len }
    }

    /// A new input: a corpus entry (or, now and then, a freshly generated one) after one to
    /// several mutations.
    pub fn generate(&self, rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut data = if corpus.is_empty() || rng.one_in(40) {
            self.fresh(rng)
        } else {
            rng.pick(corpus).clone()
        };
        let rounds = 1 + (rng.next_u64().trailing_ones() as usize).min(7);
        for _ in 0..rounds {
            self.mutate_once(rng, &mut data, corpus);
            data.truncate(self.max_len);
        }
        data
    }

    /// An input made from nothing: a random document, frame run or word salad.
    fn fresh(&self, rng: &mut Rng) -> Vec<u8> {
        match self.flavour {
            Flavour::Json => gen_value(rng, 4).into_bytes(),
            Flavour::Script => {
                let mut s = format!("{}\n\n", rng.pick(STATUSES));
                s.push_str(&gen_value(rng, 4));
                s.into_bytes()
            }
            Flavour::Mp3 => {
                let mut out = Vec::new();
                for _ in 0..rng.range(1, 40) {
                    let header = random_header(rng);
                    out.extend_from_slice(&header);
                    let len = rng.small_len(3000);
                    out.extend((0..len).map(|_| if rng.one_in(4) { rng.byte() } else { 0 }));
                }
                out
            }
            Flavour::Wav => {
                let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
                for _ in 0..rng.range(1, 6) {
                    out.extend_from_slice(&rng.pick(WAV_CHUNK_IDS)[..]);
                    let len = rng.small_len(300);
                    out.extend_from_slice(&(len as u32).to_le_bytes());
                    out.extend((0..len).map(|_| rng.byte()));
                }
                out
            }
            Flavour::Text => {
                let mut out = Vec::new();
                for _ in 0..rng.range(1, 12) {
                    out.extend_from_slice(rng.pick(TEXT_WORDS).as_bytes());
                    if rng.one_in(2) {
                        out.push(*rng.pick(b" =\n\":;,<>[]{}"));
                    }
                }
                out
            }
        }
    }

    fn mutate_once(&self, rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let aware = match self.flavour {
            Flavour::Json => rng.below(10) < 6 && json_mutation(rng, data, self.max_len),
            Flavour::Script => match rng.below(10) {
                0..=1 => script_mutation(rng, data),
                2..=6 => json_mutation(rng, data, self.max_len),
                _ => false,
            },
            Flavour::Mp3 => rng.below(10) < 6 && mp3_mutation(rng, data, self.max_len),
            Flavour::Wav => rng.below(10) < 6 && wav_mutation(rng, data, self.max_len),
            Flavour::Text => rng.below(10) < 4 && text_mutation(rng, data),
        };
        if !aware {
            generic_mutation(rng, data, corpus, self.max_len);
        }
    }
}

// ---- generic ----------------------------------------------------------------------------

const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', b'\r', b' ', b'0',
    b'-', b'.', b'e', b'<', b'>', b';', b'=', 0xc3, 0xe2, 0xf0,
];

const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "1e308",
    "-1e308",
    "1e999",
    "-1e999",
    "4.9e-324",
    "127",
    "128",
    "255",
    "256",
    "32767",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1E+2",
    "1.0e-7",
];

fn generic_mutation(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
    let len = data.len();
    match rng.below(14) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.byte();
        }
        2 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES);
        }
        3 => {
            let at = rng.below(len + 1);
            let n = rng.small_len(64);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            insert(data, at, &bytes, max_len);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.small_len(len)).min(len);
            data.drain(start..end);
        }
        5 if len > 0 => {
            // Repeat a range: long arrays, runs of frames, runs of junk.
            let start = rng.below(len);
            let end = (start + 1 + rng.small_len(256)).min(len);
            let chunk = data[start..end].to_vec();
            let times = rng.small_len(64).max(1);
            for _ in 0..times {
                insert(data, end, &chunk, max_len);
            }
        }
        6 if len > 1 => {
            let from = rng.below(len);
            let n = rng.small_len(len - from).max(1).min(len - from);
            let chunk = data[from..from + n].to_vec();
            let to = rng.below(len);
            let end = (to + n).min(len);
            data[to..end].copy_from_slice(&chunk[..end - to]);
        }
        7 if len > 0 => data.truncate(rng.below(len)),
        8 if !corpus.is_empty() => {
            let other = rng.pick(corpus);
            let cut_a = rng.below(len + 1);
            let cut_b = rng.below(other.len() + 1);
            data.truncate(cut_a);
            data.extend_from_slice(&other[cut_b..]);
        }
        9 => {
            let at = rng.below(len + 1);
            let n = rng.pick(INTERESTING_NUMBERS).as_bytes().to_vec();
            insert(data, at, &n, max_len);
        }
        10 if len > 0 => {
            let width = *rng.pick(&[1usize, 2, 4, 8]);
            let value: u64 = match rng.below(5) {
                0 => 0,
                1 => u64::MAX,
                2 => 1u64 << rng.below(64),
                3 => (1u64 << rng.below(64)).wrapping_sub(1),
                _ => rng.next_u64(),
            };
            let bytes = if rng.one_in(2) {
                value.to_le_bytes()
            } else {
                value.to_be_bytes()
            };
            let at = rng.below(len);
            let end = (at + width).min(len);
            let src = if rng.one_in(2) {
                &bytes[..width]
            } else {
                &bytes[8 - width..]
            };
            data[at..end].copy_from_slice(&src[..end - at]);
        }
        11 if len > 1 => {
            let i = rng.below(len);
            let j = rng.below(len);
            data.swap(i, j);
        }
        12 => {
            let at = rng.below(len + 1);
            let word = rng.pick(TEXT_WORDS).as_bytes().to_vec();
            insert(data, at, &word, max_len);
        }
        _ => {
            let at = rng.below(len + 1);
            let word = rng.pick(JSON_STRINGS).as_bytes().to_vec();
            insert(data, at, &word, max_len);
        }
    }
}

fn insert(data: &mut Vec<u8>, at: usize, bytes: &[u8], max_len: usize) {
    let room = max_len.saturating_sub(data.len());
    let bytes = &bytes[..bytes.len().min(room)];
    let at = at.min(data.len());
    data.splice(at..at, bytes.iter().copied());
}

fn replace(data: &mut Vec<u8>, start: usize, end: usize, with: &[u8], max_len: usize) {
    let room = max_len.saturating_sub(data.len() - (end - start));
    let with = &with[..with.len().min(room)];
    data.splice(start..end, with.iter().copied());
}

// ---- JSON -------------------------------------------------------------------------------

/// Field names of the payloads the targets read (Webex metadata, list items, people,
/// webhooks, WFO answers): a mutated key is most useful when the parser looks for it.
pub const JSON_KEYS: &[&str] = &[
    "id",
    "items",
    "members",
    "data",
    "resource",
    "event",
    "orgId",
    "ownerId",
    "ownerType",
    "ownerName",
    "ownerEmail",
    "serviceData",
    "callRecordingId",
    "callSessionId",
    "session",
    "startTime",
    "stopTime",
    "personality",
    "callingParty",
    "calledParty",
    "actor",
    "type",
    "number",
    "aor",
    "participants",
    "callActivity",
    "timeStamp",
    "holdInfo",
    "heldBy",
    "redirectInfo",
    "reason",
    "redirectingParty",
    "redirectTarget",
    "redirectedCall",
    "callId",
    "recordingActions",
    "action",
    "time",
    "answererInfo",
    "managedBy",
    "createTime",
    "timeRecorded",
    "durationSeconds",
    "sizeBytes",
    "status",
    "serviceType",
    "temporaryDirectDownloadLinks",
    "audioDownloadLink",
    "expiration",
    "emails",
    "displayName",
    "firstName",
    "lastName",
    "licenses",
    "name",
    "enabled",
    "record",
    "targetUrl",
    "secret",
    "created",
    "sessionId",
    "errorMessage",
    "requestId",
    "trackingId",
    "contactId",
    "acdId",
    "acdServerId",
    "externalId",
    "assocCallId",
    "isDefault",
    "isAgentDefault",
    "key",
    "label",
    "value",
    "bytes",
    "message",
];

/// String values the parsers branch on.
pub const JSON_STRINGS: &[&str] = &[
    "\"\"",
    "\" \"",
    "\"*****\"",
    "\"USER\"",
    "\"user\"",
    "\"PEOPLE\"",
    "\"CALL_QUEUE\"",
    "\"callQueue\"",
    "\"HUNT_GROUP\"",
    "\"VIRTUAL_LINE\"",
    "\"PLACE\"",
    "\"EXTERNAL\"",
    "\"terminator\"",
    "\"originator\"",
    "\"PAUSE\"",
    "\"RESUME\"",
    "\"CallPark\"",
    "\"CallParkRetrieve\"",
    "\"ConsultativeTransfer\"",
    "\"Deflection\"",
    "\"CallForwardNoAnswer\"",
    "\"convergedRecordings\"",
    "\"created\"",
    "\"active\"",
    "\"inactive\"",
    "\"available\"",
    "\"Never\"",
    "\"Always\"",
    "\"Webex Calling - Professional\"",
    "\"true\"",
    "\"false\"",
    "\"2026-03-11T12:30:44.120Z\"",
    "\"2026-03-11T12:30:44+08:00\"",
    "\"2026-03-11 12:30:44.120\"",
    "\"2026-03-11T12:30\"",
    "\"+262143-12-31T23:59:59Z\"",
    "\"-262143-01-01T00:00:00Z\"",
    "\"0000-01-01T00:00:00Z\"",
    "\"9999-12-31T23:59:59.999999999Z\"",
    "\"2026-02-30T25:61:61Z\"",
    "\"1970-01-01T00:00:00Z\"",
    "\"e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44\"",
    "\"E9C47B283F154A6DB7E28C1D0F4A6E44\"",
    "\"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY\"",
    "\"Y2lzY29zcGFyazovL3VzL1BMQUNFL2Y1YjM2MTg3LWM4ZGQtNDcyNy04YjJmLWY5YzQ0N2YyOTA0Ng\"",
    "\"Y2lzY29zcGFyazovLw\"",
    "\"0f3e2d1c-4b5a-4987-8c6d-5e4f3a2b1c00\"",
    "\"sip:+14085550101@10.0.0.1;user=phone\"",
    "\"tel:+16025550127\"",
    "\"sip:@host\"",
    "\"Unknown agent: acdServerId=3 acdId=a b\"",
    "\"Unknown agent: acdServerId=99999999999999999999 acdId=\"",
    "\"Unknown metadata key: x-key\"",
    "\"Metadata key is not TEXT: \"",
    "\"https://webexapis.com/v1/x?ticket=T\"",
    "\"http://127.0.0.1:1/audio\"",
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
    "\"\\u0000\"",
    "\"\\uffff\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\x\"",
    "\"é✓😀\u{202e}\"",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Str,
    Num,
    Lit,
    Open,
    Close,
    Colon,
    Comma,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

/// Cuts bytes into JSON tokens; anything else is skipped. Works on broken documents.
fn tokenize(data: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        let start = i;
        let kind = match c {
            b'"' => {
                i += 1;
                while i < data.len() && data[i] != b'"' {
                    i += if data[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(data.len());
                Tok::Str
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < data.len() && matches!(data[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                Tok::Num
            }
            b'a'..=b'z' => {
                while i < data.len() && data[i].is_ascii_alphabetic() {
                    i += 1;
                }
                Tok::Lit
            }
            b'{' | b'[' => {
                i += 1;
                Tok::Open
            }
            b'}' | b']' => {
                i += 1;
                Tok::Close
            }
            b':' => {
                i += 1;
                Tok::Colon
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(Token { kind, start, end: i });
    }
    out
}

/// The end (exclusive, in bytes) of the value starting at token `k`, and the index of its
/// last token.
fn value_extent(toks: &[Token], k: usize) -> (usize, usize) {
    if toks[k].kind != Tok::Open {
        return (toks[k].end, k);
    }
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(k) {
        match t.kind {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return (t.end, j);
                }
            }
            _ => {}
        }
    }
    let last = toks.len() - 1;
    (toks[last].end, last)
}

fn is_key(toks: &[Token], k: usize) -> bool {
    toks[k].kind == Tok::Str && toks.get(k + 1).is_some_and(|t| t.kind == Tok::Colon)
}

/// Tokens that start a value (not keys, not punctuation).
fn value_starts(toks: &[Token]) -> Vec<usize> {
    (0..toks.len())
        .filter(|&k| matches!(toks[k].kind, Tok::Str | Tok::Num | Tok::Lit | Tok::Open) && !is_key(toks, k))
        .collect()
}

fn json_mutation(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let toks = tokenize(data);
    let values = value_starts(&toks);
    if values.is_empty() {
        return false;
    }
    match rng.below(9) {
        // Replace a value by a nasty one.
        0..=2 => {
            let k = *rng.pick(&values);
            let (end, _) = value_extent(&toks, k);
            let nasty = nasty_value(rng, max_len);
            replace(data, toks[k].start, end, nasty.as_bytes(), max_len);
        }
        // Replace a key by a key of the domain.
        3 => {
            let keys: Vec<usize> = (0..toks.len()).filter(|&k| is_key(&toks, k)).collect();
            if keys.is_empty() {
                return false;
            }
            let k = *rng.pick(&keys);
            let key = format!("\"{}\"", rng.pick(JSON_KEYS));
            replace(data, toks[k].start, toks[k].end, key.as_bytes(), max_len);
        }
        // Duplicate a member (duplicate keys) or delete it.
        4 | 5 => {
            let keys: Vec<usize> = (0..toks.len()).filter(|&k| is_key(&toks, k)).collect();
            if keys.is_empty() {
                return false;
            }
            let k = *rng.pick(&keys);
            if k + 2 >= toks.len() {
                return false;
            }
            let (end, last) = value_extent(&toks, k + 2);
            let member = data[toks[k].start..end].to_vec();
            if rng.one_in(2) {
                let mut dup = vec![b','];
                dup.extend_from_slice(&member);
                insert(data, end, &dup, max_len);
            } else {
                let cut_end = match toks.get(last + 1) {
                    Some(t) if t.kind == Tok::Comma => t.end,
                    _ => end,
                };
                data.drain(toks[k].start..cut_end);
            }
        }
        // Make an array long: repeat one element many times.
        6 => {
            let k = *rng.pick(&values);
            let (end, _) = value_extent(&toks, k);
            let element = data[toks[k].start..end].to_vec();
            let times = rng.small_len(5000).max(1);
            let mut run = Vec::with_capacity(element.len().saturating_add(1).saturating_mul(times).min(max_len));
            for _ in 0..times {
                if run.len() + element.len() + 1 > max_len {
                    break;
                }
                run.push(b',');
                run.extend_from_slice(&element);
            }
            insert(data, end, &run, max_len);
        }
        // Wrap a value in an array or an object.
        7 => {
            let k = *rng.pick(&values);
            let (end, _) = value_extent(&toks, k);
            let (open, close): (Vec<u8>, &[u8]) = if rng.one_in(2) {
                (b"[".to_vec(), b"]")
            } else {
                (format!("{{\"{}\":", rng.pick(JSON_KEYS)).into_bytes(), b"}")
            };
            insert(data, end, close, max_len);
            insert(data, toks[k].start, &open, max_len);
        }
        // Swap two values.
        _ => {
            let a = *rng.pick(&values);
            let b = *rng.pick(&values);
            let (ea, _) = value_extent(&toks, a);
            let (eb, _) = value_extent(&toks, b);
            let (sa, sb) = (toks[a].start, toks[b].start);
            if ea <= sb {
                let va = data[sa..ea].to_vec();
                let vb = data[sb..eb].to_vec();
                data.splice(sb..eb, va);
                data.splice(sa..ea, vb);
            } else {
                return false;
            }
        }
    }
    true
}

/// A JSON value meant to upset a parser.
fn nasty_value(rng: &mut Rng, max_len: usize) -> String {
    match rng.below(12) {
        0..=1 => (*rng.pick(INTERESTING_NUMBERS)).to_owned(),
        2..=3 => (*rng.pick(JSON_STRINGS)).to_owned(),
        4 => (*rng.pick(&["null", "true", "false", "{}", "[]", "[null]", "{\"\":null}"])).to_owned(),
        5 => {
            // A very long string.
            let n = match rng.below(4) {
                0 => rng.below(300_000),
                _ => rng.small_len(70_000),
            }
            .min(max_len.saturating_sub(2));
            let c = *rng.pick(&['a', ' ', '*', 'é', '\u{1f600}', '0']);
            let mut s = String::with_capacity(n + 2);
            s.push('"');
            while s.len() < n {
                s.push(c);
            }
            s.push('"');
            s
        }
        6 => {
            // Deep nesting, around serde_json's recursion limit of 128 and far beyond.
            let depth = *rng.pick(&[16usize, 126, 127, 128, 129, 200, 1000, 20_000]);
            let depth = depth.min(max_len / 8);
            if rng.one_in(2) {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                let mut s = "{\"a\":".repeat(depth);
                s.push('1');
                s.push_str(&"}".repeat(depth));
                s
            }
        }
        7 => {
            // An object with many members, some duplicated.
            let n = rng.small_len(2000);
            let mut s = String::from("{");
            for i in 0..n {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&format!(
                    "\"{}\":{}",
                    rng.pick(JSON_KEYS),
                    rng.pick(INTERESTING_NUMBERS)
                ));
            }
            s.push('}');
            s
        }
        8 => {
            // A number with a huge exponent or many digits.
            let digits = rng.small_len(5000).max(1);
            let mut s = String::from(if rng.one_in(2) { "-" } else { "" });
            s.extend((0..digits).map(|_| char::from(b'0' + rng.below(10) as u8)));
            if rng.one_in(2) {
                s.push_str(&format!("e{}", rng.next_u64() as i32));
            }
            s
        }
        _ => gen_value(rng, 4),
    }
}

/// A random JSON value over the domain's keys and strings, nested at most `depth` deep.
pub fn gen_value(rng: &mut Rng, depth: usize) -> String {
    let kind = if depth == 0 { rng.below(4) } else { rng.below(7) };
    match kind {
        0 => (*rng.pick(JSON_STRINGS)).to_owned(),
        1 => (*rng.pick(INTERESTING_NUMBERS)).to_owned(),
        2 => (*rng.pick(&["null", "true", "false"])).to_owned(),
        3 => format!("\"{}\"", rng.pick(JSON_KEYS)),
        4 => {
            let n = rng.below(5);
            let parts: Vec<String> = (0..n).map(|_| gen_value(rng, depth - 1)).collect();
            format!("[{}]", parts.join(","))
        }
        _ => {
            let n = rng.below(7);
            let parts: Vec<String> = (0..n)
                .map(|_| format!("\"{}\":{}", rng.pick(JSON_KEYS), gen_value(rng, depth - 1)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

// ---- answer scripts ---------------------------------------------------------------------

/// Status lines clients treat differently.
pub const STATUSES: &[&str] = &[
    "200", "200", "200", "201", "204", "206", "301", "302", "304", "400", "401", "403", "404", "405", "408", "409",
    "410", "413", "422", "423", "429", "500", "502", "503", "504", "599", "999", "0", "abc",
];

/// Header lines clients read.
pub const HEADER_LINES: &[&str] = &[
    "Link: <http://127.0.0.1:1/v1/next?page=2>; rel=\"next\"",
    "Link: </v1/admin/convergedRecordings?cursor=x>; rel=\"next\"",
    "Link: <https://evil.example/steal>; rel=\"next\"",
    "Link: <>; rel=next",
    "Link: <a,b>; rel=\"prev next\", <c>; rel=\"last\"",
    "Link: <<>>>; rel=\"next\"",
    "Link: ;;;,,,<",
    "Retry-After: 0",
    "Retry-After: 1",
    "Retry-After: 86401",
    "Retry-After: 18446744073709551615",
    "Retry-After: -5",
    "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
    "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT",
    "Retry-After: Mon, 32 Foo 2020 99:99:99 XYZ",
    "TrackingID: ROUTER_12345",
    "trackingid: \u{fffd}",
    "X-Request-Id: r-1",
    "Content-Type: application/json",
    "Content-Type: text/html",
    "Content-Type: audio/mpeg",
    "Location: http://127.0.0.1:1/",
];

/// The separator between records of an answer script (see [`crate::answers`]).
pub const RECORD_SEPARATOR: &[u8] = b"\n###\n";

fn split_records(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = find(rest, RECORD_SEPARATOR) {
        out.push(rest[..at].to_vec());
        rest = &rest[at + RECORD_SEPARATOR.len()..];
    }
    out.push(rest.to_vec());
    out
}

fn join_records(records: &[Vec<u8>]) -> Vec<u8> {
    records.join(RECORD_SEPARATOR)
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn script_mutation(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let mut records = split_records(data);
    let n = records.len();
    match rng.below(5) {
        0 => {
            let i = rng.below(n);
            let copy = records[i].clone();
            records.insert(rng.below(n + 1), copy);
        }
        1 if n > 1 => {
            records.remove(rng.below(n));
        }
        2 if n > 1 => {
            let (a, b) = (rng.below(n), rng.below(n));
            records.swap(a, b);
        }
        3 => {
            // A new status line.
            let i = rng.below(n);
            let r = &mut records[i];
            let line_end = r.iter().position(|&c| c == b'\n').unwrap_or(r.len());
            let status = rng.pick(STATUSES).as_bytes().to_vec();
            r.splice(0..line_end, status);
        }
        _ => {
            // A header line after the status line.
            let i = rng.below(n);
            let r = &mut records[i];
            let line_end = r.iter().position(|&c| c == b'\n').unwrap_or(r.len());
            let mut line = b"\n".to_vec();
            line.extend_from_slice(rng.pick(HEADER_LINES).as_bytes());
            r.splice(line_end..line_end, line);
        }
    }
    *data = join_records(&records);
    true
}

// ---- WAV --------------------------------------------------------------------------------

const WAV_CHUNK_IDS: &[[u8; 4]] = &[*b"fmt ", *b"data", *b"LIST", *b"JUNK", *b"bext", *b"fact", *b"\0\0\0\0"];

/// Offsets of the chunk headers of a RIFF file, walked as a reader would (from byte 12,
/// each chunk's declared size and pad byte), stopping at the end or at an absurd size.
fn wav_chunks(data: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 12usize;
    while at + 8 <= data.len() && out.len() < 64 {
        out.push(at);
        let size = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]) as usize;
        at = at.saturating_add(8).saturating_add(size).saturating_add(size & 1);
    }
    out
}

fn wav_mutation(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let chunks = wav_chunks(data);
    let fmt = chunks.iter().copied().find(|&at| &data[at..at + 4] == b"fmt ");
    match rng.below(8) {
        // A chunk's declared size set to an edge value.
        0..=1 => {
            let Some(&at) = (!chunks.is_empty()).then(|| rng.pick(&chunks)) else {
                return false;
            };
            let actual = data.len() - at - 8;
            let size = *rng.pick(&[
                0u32,
                1,
                3,
                16,
                39,
                40,
                actual as u32,
                actual as u32 + 1,
                actual as u32 - u32::from(actual > 0),
                0x7FFF_FFFF,
                0xFFFF_FFFE,
                0xFFFF_FFFF,
                16 * 1024 * 1024,
            ]);
            data[at + 4..at + 8].copy_from_slice(&size.to_le_bytes());
        }
        // A `fmt ` field set to an edge or compressed value.
        2..=4 => {
            let Some(at) = fmt.filter(|&at| at + 8 + 16 <= data.len()) else {
                return false;
            };
            let f = at + 8;
            match rng.below(6) {
                0 => {
                    let tag = *rng.pick(&[0u16, 1, 2, 3, 6, 7, 0x11, 0x31, 0x55, 0xFFFE, 0xFFFF]);
                    data[f..f + 2].copy_from_slice(&tag.to_le_bytes());
                }
                1 => {
                    let channels = *rng.pick(&[0u16, 1, 2, 3, 7, 8, 9, 0xFFFF]);
                    data[f + 2..f + 4].copy_from_slice(&channels.to_le_bytes());
                }
                2 => {
                    let rate = *rng.pick(&[0u32, 1, 999, 8_000, 44_100, 384_000, 384_001, u32::MAX]);
                    data[f + 4..f + 8].copy_from_slice(&rate.to_le_bytes());
                }
                3 => {
                    let align = *rng.pick(&[0u16, 1, 2, 3, 4, 6, 9, 0xFFFF]);
                    data[f + 12..f + 14].copy_from_slice(&align.to_le_bytes());
                }
                4 => {
                    let bits = *rng.pick(&[0u16, 4, 8, 12, 16, 20, 24, 32, 64, 0xFFFF]);
                    data[f + 14..f + 16].copy_from_slice(&bits.to_le_bytes());
                }
                _ => {
                    // The extensible extension: cbSize, valid bits, sub-format tag and GUID.
                    if f + 40 > data.len() {
                        return false;
                    }
                    let i = *rng.pick(&[16usize, 18, 24, 26, 39]);
                    data[i + f] = rng.byte();
                }
            }
        }
        // An unknown chunk with any declared size in front of the others.
        5 => {
            let at = chunks.first().copied().unwrap_or(data.len().min(12));
            let mut chunk = rng.pick(WAV_CHUNK_IDS).to_vec();
            let len = rng.small_len(64);
            let declared = if rng.one_in(3) {
                rng.next_u64() as u32
            } else {
                len as u32
            };
            chunk.extend_from_slice(&declared.to_le_bytes());
            chunk.extend((0..len).map(|_| rng.byte()));
            insert(data, at, &chunk, max_len);
        }
        // Two chunks swapped (`data` before `fmt `, …).
        6 => {
            if chunks.len() < 2 {
                return false;
            }
            let i = rng.below(chunks.len() - 1);
            let (a, b) = (chunks[i], chunks[i + 1]);
            let end = chunks.get(i + 2).copied().unwrap_or(data.len()).min(data.len());
            if b > end {
                return false;
            }
            let first = data[a..b].to_vec();
            let second = data[b..end].to_vec();
            data.splice(a..end, second.into_iter().chain(first));
        }
        // Cut inside a chunk header or just after one.
        _ => {
            let Some(&at) = (!chunks.is_empty()).then(|| rng.pick(&chunks)) else {
                return false;
            };
            data.truncate(at + rng.below(16));
        }
    }
    true
}

// ---- MP3 --------------------------------------------------------------------------------

/// Offsets of everything that looks like an MPEG audio frame sync (11 set bits).
fn syncs(data: &[u8]) -> Vec<usize> {
    (0..data.len().saturating_sub(3))
        .filter(|&i| data[i] == 0xff && data[i + 1] & 0xe0 == 0xe0)
        .collect()
}

fn random_header(rng: &mut Rng) -> [u8; 4] {
    let version = *rng.pick(&[0b11u8, 0b10, 0b00, 0b01]);
    let layer = *rng.pick(&[0b01u8, 0b01, 0b10, 0b11, 0b00]);
    let bitrate = rng.below(16) as u8;
    let rate = *rng.pick(&[0u8, 1, 2, 3]);
    [
        0xff,
        0xe0 | (version << 3) | (layer << 1) | rng.below(2) as u8,
        (bitrate << 4) | (rate << 2) | (rng.below(4) as u8),
        rng.byte(),
    ]
}

/// An ID3v2 header declaring `size` body bytes (syncsafe, so at most 2^28 - 1).
fn id3_header(size: u32, footer: bool, valid: bool) -> Vec<u8> {
    let mut h = b"ID3\x04\x00".to_vec();
    h.push(if footer { 0x10 } else { 0 });
    for shift in [21u32, 14, 7, 0] {
        let mut b = ((size >> shift) & 0x7f) as u8;
        if !valid && shift == 0 {
            b |= 0x80;
        }
        h.push(b);
    }
    h
}

fn mp3_mutation(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let sync = syncs(data);
    match rng.below(11) {
        // Corrupt one field of a frame header.
        0..=2 => {
            let Some(&at) = (!sync.is_empty()).then(|| rng.pick(&sync)) else {
                return false;
            };
            match rng.below(6) {
                0 => data[at + 1] = (data[at + 1] & !0x18) | ((rng.below(4) as u8) << 3), // version
                1 => data[at + 1] = (data[at + 1] & !0x06) | ((rng.below(4) as u8) << 1), // layer
                2 => data[at + 2] = (data[at + 2] & 0x0f) | (*rng.pick(&[0u8, 15, 1, 14]) << 4), // bitrate
                3 => data[at + 2] = (data[at + 2] & !0x0c) | ((rng.below(4) as u8) << 2), // sample rate
                4 => data[at + 2] ^= 0x02,                                                // padding
                _ => data[at + 3] = rng.byte(),                                           // mode, emphasis
            }
        }
        // A fake sync word, or a valid-looking header, somewhere.
        3 => {
            let at = rng.below(data.len() + 1);
            let header = random_header(rng);
            insert(data, at, &header, max_len);
        }
        // Duplicate, drop or cut a frame.
        4..=5 => {
            if sync.len() < 2 {
                return false;
            }
            let i = rng.below(sync.len() - 1);
            let (start, end) = (sync[i], sync[i + 1]);
            match rng.below(3) {
                0 => {
                    let frame = data[start..end].to_vec();
                    for _ in 0..rng.small_len(200).max(1) {
                        insert(data, end, &frame, max_len);
                    }
                }
                1 => {
                    data.drain(start..end);
                }
                _ => {
                    let cut = start + rng.below(end - start);
                    data.truncate(cut);
                }
            }
        }
        // An ID3v2 tag in front: huge, too large, invalid, with a footer, several.
        6..=7 => {
            let size = match rng.below(5) {
                0 => 0x0fff_ffff,
                1 => (data.len() as u32).saturating_add(rng.below(1000) as u32),
                2 => rng.below(4096) as u32,
                3 => 300 * 1024,
                _ => rng.next_u64() as u32 & 0x0fff_ffff,
            };
            let mut tag = id3_header(size, rng.one_in(3), !rng.one_in(5));
            let body = (size as usize).min(rng.small_len(4096));
            tag.extend((0..body).map(|_| if rng.one_in(8) { 0xff } else { 0 }));
            let times = if rng.one_in(4) { rng.range(2, 5) } else { 1 };
            for _ in 0..times {
                insert(data, 0, &tag, max_len);
            }
        }
        // Junk: zeros or sync-like 0xff runs, past the 256 KiB first-frame search limit.
        8 => {
            let n = match rng.below(3) {
                0 => 256 * 1024 + rng.below(4096),
                _ => rng.small_len(20_000),
            };
            let byte = *rng.pick(&[0x00u8, 0xff, 0xe0, 0x49]);
            let at = rng.below(data.len() + 1);
            insert(data, at, &vec![byte; n], max_len);
        }
        // A Xing/Info/VBRI header with absurd counts in a frame.
        _ => {
            let Some(&at) = (!sync.is_empty()).then(|| rng.pick(&sync)) else {
                return false;
            };
            let tag: &[u8] = rng.pick(&[b"Xing", b"Info", b"VBRI"]).as_slice();
            let offset = at + *rng.pick(&[4usize, 13, 21, 36]);
            let mut field = tag.to_vec();
            field.extend_from_slice(&[0, 0, 0, rng.byte() & 0x0f]);
            for _ in 0..4 {
                let v: u32 = match rng.below(3) {
                    0 => u32::MAX,
                    1 => 0,
                    _ => rng.next_u64() as u32,
                };
                field.extend_from_slice(&v.to_be_bytes());
            }
            let end = (offset + field.len()).min(data.len());
            if offset >= end {
                return false;
            }
            data[offset..end].copy_from_slice(&field[..end - offset]);
        }
    }
    true
}

// ---- text -------------------------------------------------------------------------------

/// Words of the text formats: TOML of a connector, HTTP header values, ids, messages
/// with secrets.
pub const TEXT_WORDS: &[&str] = &[
    "id = \"a\"",
    "kind = \"webex-calling\"",
    "acd_server_id = ",
    "[source]",
    "[wfo]",
    "[features]",
    "[sync]",
    "[[metadata_mapping]]",
    "[[acd_filter]]",
    "[language]",
    "api_url = \"https://x\"",
    "acd_field = \"serviceData.callRecordingId\"",
    "label = \"Recording Id\"",
    "interval_minutes = ",
    "= 9223372036854775807",
    "= -1",
    "= 1e400",
    "= inf",
    "= nan",
    "= 1979-05-27T07:32:00Z",
    "\"\"\"",
    "'''",
    "\\u0000",
    "\\U0010FFFF",
    "<https://webexapis.com/v1/x>",
    "; rel=\"next\"",
    "rel=next",
    "http://",
    "https://",
    "https://user:pw@host/p?q=1#f",
    "ticket=",
    "sessionId",
    "\"sessionId\": \"",
    "password: ",
    "Bearer ",
    "code=",
    "access_token=",
    "client_secret",
    "Unknown agent",
    ": acdServerId=",
    " acdId=",
    "Unknown metadata key",
    "Metadata key is not TEXT",
    "ciscospark://us/PEOPLE/",
    "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9",
    "f5b36187-c8dd-4727-8b2f-f9c447f29046",
    "F5B36187C8DD47278B2FF9C447F29046",
    "====",
    "sip:",
    "tel:",
    "@",
    ";user=phone",
    "é",
    "\u{1f600}",
    "\u{202e}",
    "\r\n",
    "\t",
];

fn text_mutation(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let word = rng.pick(TEXT_WORDS).as_bytes().to_vec();
    let at = rng.below(data.len() + 1);
    if rng.one_in(2) {
        data.splice(at..at, word);
    } else {
        let end = (at + word.len()).min(data.len());
        data.splice(at..end, word);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let corpus = vec![
            br#"{"a":[1,2,{"b":"c"}],"d":null}"#.to_vec(),
            b"\xff\xf3\x48\xc0\0\0\0".to_vec(),
        ];
        for flavour in [
            Flavour::Json,
            Flavour::Script,
            Flavour::Mp3,
            Flavour::Wav,
            Flavour::Text,
        ] {
            let m = Mutator::new(flavour, 4096);
            let (mut a, mut b) = (Rng::new(3), Rng::new(3));
            for _ in 0..2000 {
                let x = m.generate(&mut a, &corpus);
                assert!(x.len() <= 4096);
                assert_eq!(x, m.generate(&mut b, &corpus));
            }
        }
    }

    #[test]
    fn json_values_are_found_with_their_extent() {
        let data = br#"{"k":[1,{"x":2}],"s":"a\"b"}"#;
        let toks = tokenize(data);
        let values = value_starts(&toks);
        let texts: Vec<&[u8]> = values
            .iter()
            .map(|&k| &data[toks[k].start..value_extent(&toks, k).0])
            .collect();
        assert_eq!(texts[0], data.as_slice());
        assert!(texts.contains(&br#"[1,{"x":2}]"#.as_slice()));
        assert!(texts.contains(&br#""a\"b""#.as_slice()));
    }

    #[test]
    fn id3_headers_declare_syncsafe_sizes() {
        assert_eq!(
            id3_header(257, false, true),
            b"ID3\x04\x00\x00\x00\x00\x02\x01".to_vec()
        );
        assert_eq!(id3_header(0, true, false)[9], 0x80);
    }
}
