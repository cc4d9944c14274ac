//! The Groups screen: the group tree, a group's members and roles, moves through a parent
//! picker.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
