//! Reusable widgets of the console.

pub mod chart;
pub mod forms;
pub mod layout;
pub mod poll;
pub mod ui;
pub mod url;
