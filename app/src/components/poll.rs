//! Asking the server again every few seconds while a page needs it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leptos::prelude::*;

/// Adds one to `tick` every `every` while `active()` holds, so a resource keyed on `tick`
/// reads again. It runs in the browser only (effects do not run on the server), starts and
/// stops as `active()` changes, and stops when the component goes away.
pub fn tick_while(active: impl Fn() -> bool + 'static, every: Duration, tick: RwSignal<usize>) {
    let poller: Arc<Mutex<Option<IntervalHandle>>> = Arc::new(Mutex::new(None));
    {
        let poller = Arc::clone(&poller);
        Effect::new(move |_| {
            let on = active();
            let Ok(mut slot) = poller.lock() else { return };
            match (on, slot.is_some()) {
                (true, false) => {
                    *slot = set_interval_with_handle(move || tick.update(|n| *n += 1), every).ok();
                }
                (false, true) => {
                    if let Some(handle) = slot.take() {
                        handle.clear();
                    }
                }
                _ => {}
            }
        });
    }
    on_cleanup(move || {
        if let Ok(mut slot) = poller.lock()
            && let Some(handle) = slot.take()
        {
            handle.clear();
        }
    });
}
