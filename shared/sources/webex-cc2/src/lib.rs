//! Webex Contact Center 2.0, behind the Source port (`docs/adding-a-source.md`).
