//! Reusable widgets of the console.

pub mod forms;
pub mod layout;
pub mod ui;
pub mod url;
