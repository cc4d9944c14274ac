//! The Roles screen: system and custom roles, edited as a permission matrix.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
