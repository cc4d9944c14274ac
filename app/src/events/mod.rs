//! The Events screen: the tenant's event stream, newest first, filtered by type (with
//! wildcards) and identity, refreshed every few seconds while it shows the newest page.

pub mod api;
pub mod model;
pub mod pages;
