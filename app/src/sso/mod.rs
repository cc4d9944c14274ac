//! Settings → single sign-on: the tenant's OpenID Connect providers (a Google preset or any
//! issuer by discovery), and the "Sign in with …" buttons of the sign-in and invitation
//! pages.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
