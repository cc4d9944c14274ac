//! Exporting the trail as CSV or JSON Lines: links without JavaScript; in the browser, a
//! download that counts the records as they arrive and then saves the file.

use super::*;

// Only the browser moves past `Idle`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ExportState {
    Idle,
    Running { format: ExportFormat, records: i64 },
    Done { format: ExportFormat, records: i64 },
    Failed(String),
}

impl ExportState {
    fn running(&self) -> bool {
        matches!(self, ExportState::Running { .. })
    }

    /// The status line: its text, and whether it reports a failure.
    fn message(&self) -> Option<(String, bool)> {
        match self {
            ExportState::Idle => None,
            ExportState::Running { format, records } => Some((
                format!(
                    "Exporting {}: {}…",
                    format.label(),
                    count(*records, "record", "records")
                ),
                false,
            )),
            ExportState::Done { format, records } => Some((
                format!(
                    "Export finished: {} in {}.",
                    count(*records, "record", "records"),
                    format.file_name()
                ),
                false,
            )),
            ExportState::Failed(message) => Some((message.clone(), true)),
        }
    }
}

/// CSV and JSON Lines buttons for the current filters. They are links to the export, so
/// they work without JavaScript; once the page is interactive a click reads the export
/// here instead, counting the records as they arrive, and then saves the file.
#[component]
pub(super) fn ExportBar(filter: Memo<AuditFilter>) -> impl IntoView {
    let state = RwSignal::new(ExportState::Idle);
    let button = move |format: ExportFormat| {
        view! {
            <a
                href=move || filter.with(|f| export_href(f, format))
                download=format.file_name()
                rel="external"
                class=BTN_SECONDARY
                aria-disabled=move || state.with(ExportState::running).then_some("true")
                on:click=move |ev| {
                    let url = filter.with_untracked(|f| export_href(f, format));
                    start_export(ev, url, format, state);
                }
            >
                {format!("Export {}", format.label())}
            </a>
        }
    };
    view! {
        <div class="mb-4">
            <div class="flex flex-wrap items-center justify-end gap-3" role="group" aria-label="Export">
                <span class="text-sm text-slate-600">"Export the records these filters take, oldest first:"</span>
                {button(ExportFormat::Csv)}
                {button(ExportFormat::JsonLines)}
            </div>
            <p role="status" aria-live="polite" data-testid="export-status"
                class=move || match state.with(ExportState::message) {
                    Some((_, true)) => "mt-2 text-right text-sm text-red-700",
                    _ => "mt-2 text-right text-sm text-slate-700",
                }>
                {move || state.with(ExportState::message).map(|(text, _)| text)}
            </p>
        </div>
    }
}

/// Runs the export in the browser (see [`ExportBar`]). Without JavaScript this never runs
/// and the link does the work.
pub(super) fn start_export(
    ev: leptos::ev::MouseEvent,
    url: String,
    format: ExportFormat,
    state: RwSignal<ExportState>,
) {
    #[cfg(feature = "hydrate")]
    {
        ev.prevent_default();
        if state.with_untracked(ExportState::running) {
            return;
        }
        state.set(ExportState::Running { format, records: 0 });
        leptos::task::spawn_local(async move {
            let end = match download(&url, format, state).await {
                Ok(records) => ExportState::Done { format, records },
                Err(message) => ExportState::Failed(message),
            };
            // The page may be gone by now.
            let _ = state.try_set(end);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, url, format, state);
}

/// Fetches the export, reads it chunk by chunk counting its lines, and hands the result to
/// the browser as a download. Returns how many records it held.
#[cfg(feature = "hydrate")]
pub(super) async fn download(
    url: &str,
    format: ExportFormat,
    state: RwSignal<ExportState>,
) -> Result<i64, String> {
    use js_sys::{Array, Reflect, Uint8Array};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    const UNREACHABLE: &str =
        "The server could not be reached. Check your connection and try again.";
    const MIDWAY: &str = "The export failed midway. Try again.";
    let window = web_sys::window().ok_or(UNREACHABLE)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .ok()
        .and_then(|r| r.dyn_into().ok())
        .ok_or(UNREACHABLE)?;
    if !response.ok() {
        // The server's error, as a server function sends it.
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        return Err(text
            .and_then(|t| serde_json::from_str::<AppError>(&t).ok())
            .map(|e| e.banner())
            .unwrap_or_else(|| format!("The export failed (HTTP {}).", response.status())));
    }
    let body = response.body().ok_or(MIDWAY)?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let parts = Array::new();
    let mut lines: i64 = 0;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|_| MIDWAY)?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or(MIDWAY)?;
        lines += bytes.to_vec().iter().filter(|b| **b == b'\n').count() as i64;
        parts.push(&bytes);
        let _ = state.try_set(ExportState::Running {
            format,
            records: format.records(lines),
        });
    }
    save(&window, &parts, format).map_err(|_| "The browser did not save the file.".to_owned())?;
    Ok(format.records(lines))
}

/// Offers `parts` as a file: a Blob, an object URL and a temporary `<a download>`.
#[cfg(feature = "hydrate")]
pub(super) fn save(
    window: &web_sys::Window,
    parts: &js_sys::Array,
    format: ExportFormat,
) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(format.media_type());
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &options)?;
    let href = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = window.document().ok_or(wasm_bindgen::JsValue::NULL)?;
    let anchor: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    anchor.set_href(&href);
    anchor.set_download(format.file_name());
    if let Some(body) = document.body() {
        body.append_child(&anchor)?;
    }
    anchor.click();
    anchor.remove();
    // Revoking the URL at once can cancel the download in some browsers.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&href);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One record
