//! Signing in and out of the console, and who is signed in.

pub mod api;
pub mod model;
pub mod pages;
