//! The Webhooks screens: subscriptions, their delivery log, test pings, retries, replays,
//! secret rotation and delivery stats.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
