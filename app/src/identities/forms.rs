//! What the Identities screen's forms post, and how each becomes the service's input. The
//! fields are flat (the server functions take them with `#[server(flatten)]`), all text, so
//! a form missing a field still reaches the service, which authorizes before it validates.

use serde::{Deserialize, Serialize};

/// The list's search box, filter and page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
}

/// The New identity form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewIdentityForm {
    pub email: String,
    pub display_name: String,
    pub external_id: String,
    pub kind: String,
    pub role: String,
    pub metadata: String,
    pub personal_metadata: String,
    pub password: String,
}

/// The Edit identity form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EditIdentityForm {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub external_id: String,
    pub metadata: String,
    pub personal_metadata: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use service::identities::{IdentityPatch, Kind, ListQuery, NewIdentity, StatusFilter};
    use service::validation::Choice;

    use super::*;

    /// The metadata box: empty is `{}`, anything else must be JSON.
    pub fn metadata(raw: &str) -> service::Result<Option<serde_json::Value>> {
        json_box("metadata", "Metadata", raw)
    }

    /// A box of JSON named `field` (`label` in its error): empty is `{}`.
    fn json_box(field: &str, label: &str, raw: &str) -> service::Result<Option<serde_json::Value>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Some(serde_json::json!({})));
        }
        serde_json::from_str(raw).map(Some).map_err(|e| {
            service::Error::validation(
                field,
                "invalid_json",
                format!("{label} must be valid JSON: {e}"),
            )
        })
    }

    /// The personal metadata box: empty leaves it as it is (`{}` clears it).
    fn personal(raw: &str) -> service::Result<Option<serde_json::Value>> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        json_box("personal_metadata", "Personal details", raw)
    }

    /// The status switch's value: `disabled` or `active`, as a "disabled" flag.
    pub(super) fn disabled(status: &str) -> service::Result<bool> {
        match service::identities::Status::parse(status.trim()) {
            Some(service::identities::Status::Disabled) => Ok(true),
            Some(service::identities::Status::Active) => Ok(false),
            _ => Err(service::Error::validation(
                "status",
                "invalid_value",
                "status must be active or disabled",
            )),
        }
    }

    fn blank_is_none(s: &str) -> Option<String> {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    }

    impl TryFrom<IdentityQuery> for ListQuery {
        type Error = service::Error;
        fn try_from(f: IdentityQuery) -> service::Result<ListQuery> {
            Ok(ListQuery {
                status: StatusFilter::read_or_default(f.status.as_deref())?,
                q: f.q,
                kind: None,
                limit: Some(25),
                cursor: f.cursor.filter(|c| !c.is_empty()),
            })
        }
    }

    impl TryFrom<NewIdentityForm> for NewIdentity {
        type Error = service::Error;
        fn try_from(f: NewIdentityForm) -> service::Result<NewIdentity> {
            Ok(NewIdentity {
                kind: Kind::read_opt(Some(&f.kind))?,
                roles: blank_is_none(&f.role).map(|r| vec![r]),
                metadata: metadata(&f.metadata)?,
                personal_metadata: personal(&f.personal_metadata)?,
                email: Some(f.email),
                display_name: Some(f.display_name),
                external_id: Some(f.external_id),
                password: Some(f.password),
            })
        }
    }

    impl TryFrom<EditIdentityForm> for IdentityPatch {
        type Error = service::Error;
        fn try_from(f: EditIdentityForm) -> service::Result<IdentityPatch> {
            Ok(IdentityPatch {
                external_id: Some(blank_is_none(&f.external_id)),
                metadata: metadata(&f.metadata)?,
                personal_metadata: personal(&f.personal_metadata)?,
                email: Some(f.email),
                display_name: Some(f.display_name),
                disabled: None,
            })
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::metadata;

/// The enable/disable switch's value: `active` or `disabled`.
#[derive(Debug, Clone)]
pub struct Switch(pub String);

#[cfg(feature = "ssr")]
impl TryFrom<Switch> for bool {
    type Error = service::Error;
    /// Whether the identity is to be disabled.
    fn try_from(s: Switch) -> service::Result<bool> {
        ssr::disabled(&s.0)
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::identities::api::{CreateIdentity, ListIdentities};

    #[test]
    fn a_plain_form_post_reads_into_the_flat_form() {
        let posted = "email=ada%40example.com&display_name=Ada&kind=agent&password=s3cret";
        let args: CreateIdentity = serde_qs::from_str(posted).unwrap();
        assert_eq!(args.form.email, "ada@example.com");
        assert_eq!(args.form.kind, "agent");
        assert_eq!(args.form.password, "s3cret");
        // A field the form did not send is empty, for the service to judge after it has
        // authorized the caller.
        assert_eq!(args.form.role, "");
    }

    #[test]
    fn the_browser_side_posts_the_same_flat_fields() {
        let form = NewIdentityForm {
            email: "ada@example.com".into(),
            kind: "user".into(),
            ..Default::default()
        };
        let posted = serde_qs::to_string(&CreateIdentity { form }).unwrap();
        assert!(posted.contains("email=ada%40example.com"), "{posted}");
        assert!(!posted.contains("form["), "{posted}");
        let query = IdentityQuery {
            status: Some("deleted".into()),
            ..Default::default()
        };
        let posted = serde_qs::to_string(&ListIdentities {
            query: query.clone(),
        })
        .unwrap();
        let back: ListIdentities = serde_qs::from_str(&posted).unwrap();
        assert_eq!(back.query, query);
    }

    #[test]
    fn a_form_kept_for_showing_again_leaves_secrets_out() {
        let form = NewIdentityForm {
            email: "ada@example.com".into(),
            password: "s3cret-s3cret".into(),
            ..Default::default()
        };
        let kept = crate::server::kept_values(&form);
        assert!(kept.contains(&("email".to_owned(), "ada@example.com".to_owned())));
        assert!(
            kept.iter()
                .all(|(k, v)| k != "password" && !v.contains("s3cret"))
        );
    }

    #[test]
    fn the_forms_read_choices_with_the_services_message() {
        use service::identities::NewIdentity;
        let form = NewIdentityForm {
            kind: "robot".into(),
            ..Default::default()
        };
        let Err(service::Error::Validation(errors)) = NewIdentity::try_from(form) else {
            panic!("a kind that is not one is refused");
        };
        assert_eq!(errors[0].field, "kind");
        assert_eq!(
            errors[0].message,
            "kind must be user or agent, not \"robot\""
        );
        assert!(bool::try_from(Switch("asleep".into())).is_err());
        assert_eq!(Switch("disabled".into()).try_into().ok(), Some(true));
    }
}
