//! The Audit trail screen: the tenant's records newest first with filters kept in the
//! address, a record's page with its before/after diff and place in the hash chain, the
//! chain's verification, and the export of what the filters take (CSV or JSON Lines).

pub mod api;
pub mod model;
pub mod pages;
