//! Integration tests of the Webex Calling simulator, over real HTTP on 127.0.0.1.
//! Every test starts its own simulator (and receivers) and shuts them down.

mod common;
mod identity;
mod people;
mod recordings;
mod scenario;
mod webhooks;
