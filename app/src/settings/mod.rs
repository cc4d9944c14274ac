//! The Settings screen.

pub mod encryption;
pub mod pages;
pub mod retention;
