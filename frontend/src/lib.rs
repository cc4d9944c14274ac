//! The console's browser entry point: hydrate the server-rendered page, nothing else.

// The console's views are deeply nested types; their layout needs a deeper query limit.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for end-to-end tests (and curious admins) that the page is interactive now.
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__tenantry_hydrated".into(), &true.into());
    }
}
