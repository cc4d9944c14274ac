//! The JSON API's plumbing (errors, extractors) and its routes under `/v1`.

pub mod extract;
pub mod nullable;
pub mod problem;
pub mod v1;
