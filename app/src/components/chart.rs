//! Bars by hour (or day), each stacked from two series: a base (served, succeeded) and an
//! alarm on top (refused, failed). One figure with its text summary as the image's label,
//! the first, middle and last labels under it, and a legend with the totals.

use leptos::prelude::*;

/// One bar: its label and its two counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub label: String,
    pub base: i64,
    pub top: i64,
}

/// A series: what its counts are called (`served`), its Tailwind colour, and its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
    pub legend: String,
}

#[component]
pub fn StackedBars(
    bars: Vec<Stack>,
    base: Series,
    top: Series,
    /// What the chart says, for screen readers (the image's label).
    summary: String,
    /// Said over an empty chart.
    quiet: &'static str,
    testid: &'static str,
    /// The legend entry of the top series gets this test id.
    #[prop(optional)]
    top_testid: Option<&'static str>,
) -> AnyView {
    let peak = bars
        .iter()
        .map(|b| b.base + b.top)
        .max()
        .unwrap_or(0)
        .max(1);
    let label_at = |i: usize| bars.get(i).map(|b| b.label.clone()).unwrap_or_default();
    let (first, middle) = (label_at(0), label_at(bars.len() / 2));
    let empty = bars.iter().all(|b| b.base + b.top == 0);
    let (base_name, top_name) = (base.name, top.name);
    let (base_color, top_color) = (base.color, top.color);
    view! {
        <div class="relative mt-4">
            {empty.then(|| view! {
                <p class="absolute inset-x-0 top-14 text-center text-sm text-slate-500">{quiet}</p>
            })}
            <div class="flex h-40 items-end gap-1 border-b border-slate-200" role="img" aria-label=summary data-testid=testid>
                {bars.into_iter().map(|b| {
                    let height = |n: i64| format!("height: {}%", (n as f64 / peak as f64 * 100.0).max(if n > 0 { 2.0 } else { 0.0 }));
                    let title = format!("{}: {} {base_name}, {} {top_name}", b.label, b.base, b.top);
                    view! {
                        <div class="flex h-full flex-1 flex-col justify-end" title=title>
                            {(b.top > 0).then(|| view! { <div class=format!("w-full rounded-t-sm {top_color}") style=height(b.top)></div> })}
                            {(b.base > 0).then(|| {
                                let round = if b.top > 0 { "" } else { " rounded-t-sm" };
                                view! { <div class=format!("w-full {base_color}{round}") style=height(b.base)></div> }
                            })}
                            {(b.base + b.top == 0).then(|| view! { <div class="w-full bg-slate-100" style="height: 2px"></div> })}
                        </div>
                    }
                }).collect_view()}
            </div>
            <div class="mt-1 flex justify-between text-xs text-slate-500" aria-hidden="true">
                <span>{first}</span>
                <span>{middle}</span>
                <span>"now"</span>
            </div>
            <p class="mt-2 flex gap-4 text-xs text-slate-700">
                <span class="inline-flex items-center gap-1.5"><span class=format!("h-2.5 w-2.5 rounded-sm {base_color}") aria-hidden="true"></span>{base.legend}</span>
                <span class="inline-flex items-center gap-1.5" data-testid=top_testid><span class=format!("h-2.5 w-2.5 rounded-sm {top_color}") aria-hidden="true"></span>{top.legend}</span>
            </p>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bar_says_its_counts_and_the_legend_its_totals() {
        let owner = Owner::new();
        owner.set();
        let bars = vec![
            Stack {
                label: "13:00".into(),
                base: 3,
                top: 1,
            },
            Stack {
                label: "14:00".into(),
                base: 0,
                top: 0,
            },
        ];
        let html = view! {
            <StackedBars bars summary="3 served and 1 refused".into() testid="c" top_testid="t"
                quiet="Nothing."
                base=Series { name: "served", color: "bg-indigo-500", legend: "3 served".into() }
                top=Series { name: "refused", color: "bg-red-500", legend: "1 refused".into() }/>
        }
        .to_html();
        assert!(
            html.contains(r#"aria-label="3 served and 1 refused""#),
            "{html}"
        );
        assert!(
            html.contains(r#"title="13:00: 3 served, 1 refused""#),
            "{html}"
        );
        assert!(
            html.contains("height: 75%") && html.contains("height: 25%"),
            "{html}"
        );
        assert!(
            html.contains(r#"data-testid="t""#) && html.contains("1 refused"),
            "{html}"
        );
        assert!(
            !html.contains("Nothing."),
            "a chart with counts is not empty: {html}"
        );
    }
}
