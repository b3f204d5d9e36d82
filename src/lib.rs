//! sc-action-runner: runs AWS Service Catalog self-service actions from SQS, EventBridge and direct
//! events, safely under retries, and reports every outcome to a results queue.
//!
//! Only [`aws`] knows about the AWS SDK; everything else is plain, synchronous where it can be, and
//! tested with fakes of the two ports in [`ports`].

pub mod aws;
pub mod backoff;
mod cache;
pub mod config;
pub mod deadline;
pub mod error;
pub mod event;
pub mod fleet;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod outcome;
pub mod pace;
pub mod ports;
pub mod request;
pub mod resource;
pub mod token;
pub mod tracking;

pub use config::Config;
pub use handler::{Handler, Invocation};
