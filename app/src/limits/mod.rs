//! The Limits screen: the tenant's plan, its rates, each quota with its use, and the last
//! day's requests served and refused.

pub mod api;
pub mod model;
pub mod pages;
