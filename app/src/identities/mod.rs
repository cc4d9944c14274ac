//! The Identities screen: list with search and filters, detail, create, edit, disable and
//! enable, delete with confirmation, restore.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
