//! The Memories screen: search by meaning or by words (with the matched words marked),
//! the newest memories, a memory's page with edit, Trash and permanent delete, the Trash
//! with restore, the embedding status and the tenant's default expiry.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
