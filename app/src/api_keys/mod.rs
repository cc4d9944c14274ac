//! The API keys screen: the caller's keys (or, with `api_keys:manage`, every key in the
//! tenant), a form that makes one and shows its secret once, and revocation.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
