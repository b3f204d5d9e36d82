//! `sc-local demo`, section by section: the sample events in a plain loop ([`samples`]), then the
//! function as deployed ([`deployed`]) with completion tracking ([`tracking`]), fleet runs
//! ([`fleet`]) and an AWS event turned into an action ([`events`]). [`report`] counts every
//! result and checks every expectation; the demo fails when one does not hold.

use std::path::PathBuf;

pub(crate) mod deployed;
mod events;
mod fleet;
mod inbox;
pub(crate) mod report;
pub(crate) mod samples;
mod show;
mod tracking;

/// Where the demo finds what it runs.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// The built function.
    pub(crate) function: PathBuf,
    /// The project root (cargo lambda watch runs there).
    pub(crate) project: PathBuf,
    /// The sample events (`events/`; AWS's own events in `events/aws/`).
    pub(crate) events: PathBuf,
}
