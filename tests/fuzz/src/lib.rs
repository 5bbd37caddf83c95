//! Fuzzing of every parser that reads outside bytes (issue 10, item 9).
//!
//! The toolchain here is stable Rust, and coverage-guided fuzzers (`cargo fuzz` /
//! libFuzzer, AFL) need nightly or an instrumenting compiler, so this crate fuzzes with
//! **generated and mutated inputs at volume**: every target starts from the repository's
//! real fixtures and format-aware seeds ([`seeds`]), and a deterministic mutator
//! ([`mutate`]) makes new inputs from them, biased by what each format looks like (JSON
//! tokens and domain words, HTTP answer scripts, MP3 frame headers and ID3 tags, TOML and
//! header text). An input that produces an outcome not seen before joins the corpus, a
//! cheap stand-in for coverage feedback.
//!
//! - [`targets`]: one function per parser, calling the production entry point and checking
//!   what it promises; [`targets::ALL`] lists them.
//! - [`runner`]: runs a target for a number of inputs or a time, catches panics in every
//!   thread, fails inputs that make the code hold more than [`runner::ALLOC_LIMIT`] bytes
//!   ([`alloc`] counts), stops on a hang, and saves failing inputs.
//! - [`answers`]: the loopback HTTP server that feeds fuzzed answers to the real Webex and
//!   WFO clients.
//! - [`rng`]: the SplitMix64 generator behind every random choice (`--seed` repeats a run).
//!
//! The `wfo-fuzz` binary runs the targets (`docs/fuzzing.md` has the commands); the test
//! `tests/short.rs` runs a few thousand inputs of each under `cargo test`.

pub mod alloc;
pub mod answers;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod seeds;
pub mod targets;
