//! The Identities screen: list with search and filters, detail, create, edit, disable and
//! enable, delete with confirmation, restore; a person's data exported or erased.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
mod privacy;
