//! What the Memories screen's forms and lists send, and how each becomes the service's
//! input. Form fields are flat text (taken with `#[server(flatten)]`), so a form missing a
//! field still reaches the service, which authorizes before it validates.

use serde::{Deserialize, Serialize};

/// A page of the list: `state` is `live` (default), `deleted` (the Trash) or `all`; `owner`
/// an identity id; `tags` comma-separated (memories carrying all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryQuery {
    pub state: Option<String>,
    pub owner: Option<String>,
    pub tags: Option<String>,
    pub cursor: Option<String>,
}

/// A search: `mode` is `hybrid` (default), `semantic` or `keyword`; `trash` (`1`) searches
/// the Trash too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    pub q: String,
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub tags: Option<String>,
    pub trash: Option<String>,
}

/// The new-memory and edit forms (`id` only when editing, `owner_id` only when new).
/// `expiry` is `default`, `keep`, `never`, a number of seconds, or `custom` with
/// `ttl_seconds`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryForm {
    pub id: String,
    pub owner_id: String,
    pub text: String,
    pub tags: String,
    pub source: String,
    pub importance: String,
    pub metadata: String,
    pub expiry: String,
    pub ttl_seconds: String,
}

/// The tenant's default lifetime of new memories: `default_expiry` is `never`, a number of
/// seconds, or `custom` with `default_ttl_seconds`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TtlForm {
    pub default_expiry: String,
    pub default_ttl_seconds: String,
}

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use service::memories::search::{Mode, SearchInput};
    use service::memories::{Filter, MemoryPatch, NewMemory, State};
    use service::validation::Choice;

    use super::*;
    use crate::memories::model::{Expiry, parse_expiry, split_tags};

    fn invalid(field: &str, message: &str) -> service::Error {
        service::Error::validation(field, "invalid_value", message)
    }

    /// An owner typed or picked in a form: empty for none (the tenant's shared memories).
    fn owner(field: &str, raw: &str) -> service::Result<Option<uuid::Uuid>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        uuid::Uuid::parse_str(raw)
            .map(Some)
            .map_err(|_| invalid(field, "Pick an identity from the list, or paste its id."))
    }

    fn filter(owner_raw: Option<&str>, tags: Option<&str>) -> service::Result<Filter> {
        Ok(Filter {
            owner_id: owner("owner", owner_raw.unwrap_or_default())?,
            tags: split_tags(tags.unwrap_or_default()),
            ..Default::default()
        })
    }

    /// The arguments of `service::memories::list`, read from a [`MemoryQuery`].
    pub struct Listing {
        pub filter: Filter,
        pub state: State,
        pub cursor: Option<String>,
    }

    impl TryFrom<MemoryQuery> for Listing {
        type Error = service::Error;
        fn try_from(q: MemoryQuery) -> service::Result<Listing> {
            Ok(Listing {
                state: State::read_or_default(q.state.as_deref())?,
                filter: filter(q.owner.as_deref(), q.tags.as_deref())?,
                cursor: q.cursor.filter(|c| !c.is_empty()),
            })
        }
    }

    impl TryFrom<SearchQuery> for SearchInput {
        type Error = service::Error;
        fn try_from(q: SearchQuery) -> service::Result<SearchInput> {
            Ok(SearchInput {
                mode: Mode::read_or_default(q.mode.as_deref())?,
                filter: filter(q.owner.as_deref(), q.tags.as_deref())?,
                query: q.q,
                top_k: Some(20),
                min_score: None,
                include_deleted: matches!(q.trash.as_deref(), Some("1" | "true" | "on")),
            })
        }
    }

    /// [`MemoryForm`]'s fields that need reading, read.
    struct Fields {
        metadata: serde_json::Value,
        tags: Vec<String>,
        importance: Option<f32>,
        expiry: Expiry,
    }

    impl MemoryForm {
        fn fields(&self) -> service::Result<Fields> {
            Ok(Fields {
                metadata: metadata(&self.metadata)?,
                tags: split_tags(&self.tags),
                importance: importance(&self.importance)?,
                expiry: parse_expiry(&self.expiry, &self.ttl_seconds)
                    .map_err(|m| invalid("ttl_seconds", m))?,
            })
        }
    }

    fn metadata(raw: &str) -> service::Result<serde_json::Value> {
        crate::identities::forms::metadata(raw).map(Option::unwrap_or_default)
    }

    fn importance(raw: &str) -> service::Result<Option<f32>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.replace(',', ".").parse::<f32>().map(Some).map_err(|_| {
            invalid(
                "importance",
                "Importance is a number between 0 and 1, like 0.7.",
            )
        })
    }

    impl TryFrom<MemoryForm> for NewMemory {
        type Error = service::Error;
        fn try_from(f: MemoryForm) -> service::Result<NewMemory> {
            let fields = f.fields()?;
            Ok(NewMemory {
                owner_id: owner("owner_id", &f.owner_id)?,
                text: f.text,
                metadata: Some(fields.metadata),
                tags: Some(fields.tags),
                source: Some(f.source),
                importance: fields.importance,
                ttl_seconds: match fields.expiry {
                    Expiry::Seconds(s) => Some(s),
                    _ => None,
                },
                expires_at: None,
                // "Never" overrides the tenant's default lifetime.
                never_expires: fields.expiry == Expiry::Never,
            })
        }
    }

    impl TryFrom<MemoryForm> for MemoryPatch {
        type Error = service::Error;
        fn try_from(f: MemoryForm) -> service::Result<MemoryPatch> {
            let fields = f.fields()?;
            let (ttl_seconds, expires_at) = match fields.expiry {
                Expiry::Keep | Expiry::Default => (None, None),
                Expiry::Never => (None, Some(None)),
                Expiry::Seconds(s) => (Some(s), None),
            };
            Ok(MemoryPatch {
                owner_id: None,
                text: Some(f.text),
                metadata: Some(fields.metadata),
                tags: Some(fields.tags),
                source: Some(f.source),
                importance: Some(fields.importance),
                ttl_seconds,
                expires_at,
            })
        }
    }

    /// The tenant's default lifetime in seconds, `None` for none.
    pub struct DefaultTtl(pub Option<i32>);

    impl TryFrom<TtlForm> for DefaultTtl {
        type Error = service::Error;
        fn try_from(f: TtlForm) -> service::Result<DefaultTtl> {
            let field = "default_ttl_seconds";
            let expiry = parse_expiry(&f.default_expiry, &f.default_ttl_seconds)
                .map_err(|m| invalid(field, m))?;
            Ok(DefaultTtl(match expiry {
                Expiry::Seconds(s) => Some(
                    i32::try_from(s)
                        .map_err(|_| invalid(field, "The default lifetime is at most 68 years."))?,
                ),
                Expiry::Never | Expiry::Default | Expiry::Keep => None,
            }))
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::memories::api::{SearchMemories, UpdateMemory};

    #[test]
    fn a_search_survives_the_trip_to_the_server() {
        let query = SearchQuery {
            q: "tea & biscuits".into(),
            mode: Some("keyword".into()),
            trash: Some("1".into()),
            ..Default::default()
        };
        let posted = serde_qs::to_string(&SearchMemories {
            query: query.clone(),
        })
        .unwrap();
        let back: SearchMemories = serde_qs::from_str(&posted).unwrap();
        assert_eq!(back.query, query);
    }

    #[test]
    fn the_edit_form_posts_flat_fields_and_reads_its_expiry() {
        let posted =
            "id=0190e0c4-0000-7000-8000-000000000001&text=Hi&expiry=never&importance=0%2C5";
        let args: UpdateMemory = serde_qs::from_str(posted).unwrap();
        let patch = service::memories::MemoryPatch::try_from(args.form).unwrap();
        assert_eq!(patch.text.as_deref(), Some("Hi"));
        assert_eq!(patch.expires_at, Some(None), "never: made permanent");
        assert_eq!(patch.importance, Some(Some(0.5)));
        let bad = MemoryForm {
            expiry: "custom".into(),
            ttl_seconds: "soon".into(),
            ..Default::default()
        };
        let Err(service::Error::Validation(errors)) = service::memories::NewMemory::try_from(bad)
        else {
            panic!("a custom expiry needs seconds");
        };
        assert_eq!(errors[0].field, "ttl_seconds");
    }
}
