//! Signing in and out of the console, and who is signed in.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
pub mod perm;

/// Whether the signed-in admin holds `permission` (e.g. [`perm::WEBHOOKS_UPDATE`]), from
/// the page frame's context. The server decides every call; this only hides what would be
/// refused.
pub fn can(permission: perm::Perm) -> bool {
    leptos::prelude::use_context::<model::UserView>().is_some_and(|u| u.can(permission))
}
