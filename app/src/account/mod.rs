//! The Account page: the signed-in person's profile, password and sessions.

pub mod api;
pub mod model;
pub mod pages;
