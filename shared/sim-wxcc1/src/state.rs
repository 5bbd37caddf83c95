//! The simulator's shared state behind one mutex.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use rand::rngs::StdRng;
use wfo_sim_wxcc::SimClock;

use crate::auth::Credentials;
use crate::aux_data::{AuxItem, AuxResource};
use crate::records::Session;

/// Which route a fault or a count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// `GET /csrs`
    Csrs,
    /// `GET /cars`
    Cars,
    /// `GET /auxiliary-data/resources/{type}`
    AuxData,
    /// `GET /media`
    Media,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Csrs => "GET /csrs",
            Route::Cars => "GET /cars",
            Route::AuxData => "GET /auxiliary-data/resources/{type}",
            Route::Media => "GET /media",
        }
    }
}

/// A fault aimed at one route: the next `skip` authenticated requests pass, then `times`
/// requests answer `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub route: Route,
    pub skip: u32,
    pub times: u32,
    pub status: u16,
}

pub(crate) struct State {
    pub credentials: Credentials,
    pub sessions: BTreeMap<String, Arc<Session>>,
    pub aux: BTreeMap<AuxResource, BTreeMap<String, AuxItem>>,
    /// Entries served as they are, after the items of `aux` (malformed ones for tests).
    pub aux_raw: BTreeMap<AuxResource, Vec<serde_json::Value>>,
    /// Pages (from 0) of a list that answer this status until cleared.
    pub aux_page_faults: BTreeMap<(AuxResource, usize), u16>,
    pub capture_delay: Duration,
    pub faults: VecDeque<Fault>,
    pub request_counts: BTreeMap<Route, u64>,
    pub refused: u64,
    pub rng: StdRng,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub clock: SimClock,
}

pub(crate) type SharedRef = Arc<Shared>;

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an authenticated request on `route` and says which status to fail it with.
    pub fn admit(&self, route: Route) -> Option<StatusCode> {
        let mut st = self.lock();
        *st.request_counts.entry(route).or_default() += 1;
        let i = st.faults.iter().position(|f| f.route == route)?;
        let f = &mut st.faults[i];
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        let status = f.status;
        f.times = f.times.saturating_sub(1);
        if f.times == 0 {
            st.faults.remove(i);
        }
        Some(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }
}
