//! The Settings screen.

pub mod pages;
pub mod retention;
