//! The console's frame: sidebar navigation, the top bar with tenant and user, and the guard
//! that sends anonymous visitors to the sign-in page.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::use_location;

use crate::auth::api::{Logout, SwitchTenant, console_state};
use crate::auth::model::UserView;
use crate::components::forms::provide_flash;
use crate::components::ui::{Loading, Pill};

/// One entry of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

pub const NAV: &[NavItem] = &[
    NavItem {
        href: "/identities",
        label: "Identities",
    },
    NavItem {
        href: "/groups",
        label: "Groups",
    },
    NavItem {
        href: "/roles",
        label: "Roles",
    },
    NavItem {
        href: "/policies",
        label: "Policies",
    },
    NavItem {
        href: "/api-keys",
        label: "API keys",
    },
    NavItem {
        href: "/invitations",
        label: "Invitations",
    },
    NavItem {
        href: "/memories",
        label: "Memories",
    },
    NavItem {
        href: "/webhooks",
        label: "Webhooks",
    },
    NavItem {
        href: "/events",
        label: "Events",
    },
    NavItem {
        href: "/audit",
        label: "Audit trail",
    },
    NavItem {
        href: "/limits",
        label: "Limits",
    },
    NavItem {
        href: "/settings",
        label: "Settings",
    },
];

/// The signed-in frame around every console page, or a redirect to sign in.
///
/// The frame (and with it the page and the page's resources) is made once, by a `Suspend`
/// that is the Suspense's child itself, not by a closure: Suspense walks its children again
/// until no read is pending (`dry_resolve`), and a closure would be called again on each walk,
/// making the page anew with fresh resources each time. A page whose resources finish at
/// different moments then kept the walk going forever and its server render hung (seen on
/// /events, whose page reads three). A `Suspend` keeps what it made once it is ready.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let state = Resource::new_blocking(|| (), |_| console_state());
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <div class="p-8"><Loading/></div> }>
            {Suspend::new(async move {
                match state.await {
                    Ok(crate::auth::model::PageState { user: Some(user), flash }) => {
                        provide_context(user.clone());
                        provide_flash(flash);
                        view! { <Frame user=user/> }.into_any()
                    }
                    _ => {
                        let here = location.pathname.get_untracked();
                        let next = if here == "/" { String::new() } else { format!("?next={here}") };
                        view! { <Redirect path=format!("/login{next}")/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Frame(user: UserView) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let name = user.label.clone();
    view! {
        <div class="min-h-screen bg-slate-50 lg:flex">
            <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
                "Skip to content"
            </a>
            <aside class="bg-slate-900 text-slate-200 lg:w-60 lg:shrink-0">
                <div class="lg:sticky lg:top-0">
                <div class="flex h-16 items-center gap-2 px-5">
                    <span class="flex h-8 w-8 items-center justify-center rounded-lg bg-indigo-500 font-bold text-white" aria-hidden="true">"T"</span>
                    <span class="text-lg font-semibold text-white">"Tenantry"</span>
                </div>
                <nav aria-label="Main" class="px-3 pb-4">
                    <ul class="flex flex-wrap gap-1 lg:block lg:space-y-1">
                        {NAV
                            .iter()
                            .map(|item| {
                                view! {
                                    <li>
                                        <A
                                            href=item.href
                                            attr:class="group flex items-center justify-between rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:bg-slate-800 aria-[current=page]:text-white"
                                        >
                                            <span>{item.label}</span>
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                </div>
            </aside>
            <div class="min-w-0 flex-1">
                <header class="flex h-16 items-center justify-between border-b border-slate-200 bg-white px-6">
                    <div class="flex items-center gap-3">
                        <span class="text-sm font-semibold text-slate-900" data-testid="tenant-name">{user.tenant_name.clone()}</span>
                        <Pill text=format!("{} plan", user.plan)/>
                        <TenantSwitcher others=user.other_tenants.clone()/>
                    </div>
                    <div class="flex items-center gap-4">
                        <div class="text-right">
                            <a href="/account" class="text-sm font-medium text-slate-900 hover:text-indigo-700 hover:underline" data-testid="user-name" title="Your account">{name}</a>
                            <p class="text-xs text-slate-600">{user.roles_label()}</p>
                        </div>
                        <ActionForm action=logout>
                            <button type="submit" class="rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50">
                                "Sign out"
                            </button>
                        </ActionForm>
                    </div>
                </header>
                <main id="main" class="mx-auto max-w-6xl px-6 py-8">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

/// Switching between the tenants this browser signed in to, and signing in to another.
#[component]
fn TenantSwitcher(others: Vec<(String, String)>) -> impl IntoView {
    // A plain form on purpose: switching reloads the whole console for the other tenant.
    let action = SwitchTenant::url();
    let add = view! {
        <a href="/login?add=1" class="text-xs font-medium text-indigo-700 hover:underline">"Add a tenant"</a>
    };
    if others.is_empty() {
        return add.into_any();
    }
    view! {
        <form method="post" action=action class="flex items-center gap-2" aria-label="Switch tenant">
            <label for="switch-tenant" class="sr-only">"Switch to tenant"</label>
            <select id="switch-tenant" name="tenant"
                class="rounded-md border-0 py-1 pl-2 pr-7 text-xs text-slate-900 ring-1 ring-inset ring-slate-300">
                {others.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
            </select>
            <button type="submit" class="rounded-md px-2 py-1 text-xs font-medium text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50">"Switch"</button>
            {add}
        </form>
    }
    .into_any()
}
