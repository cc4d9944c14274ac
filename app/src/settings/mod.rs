//! The Settings screen.

pub mod pages;
