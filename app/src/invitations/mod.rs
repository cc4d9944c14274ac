//! The Invitations screen (invite, follow, resend, revoke; the mail outbox) and the public
//! page an invitee's link opens.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
