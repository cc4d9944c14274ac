//! What the invitation forms post (flat text fields, taken with `#[server(flatten)]`; the
//! role checkboxes as `roles[i]`).

use serde::{Deserialize, Serialize};

/// A new invitation: the roles ticked (none: the tenant's default), how many days the link
/// works.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvitationForm {
    pub email: String,
    #[serde(deserialize_with = "crate::components::url::indexed_list")]
    pub roles: Vec<String>,
    pub message: String,
    pub expires_in_days: String,
}

/// Accepting an invitation: the link's token, the new member's name and password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AcceptForm {
    pub token: String,
    pub display_name: String,
    pub password: String,
}

#[cfg(feature = "ssr")]
impl TryFrom<InvitationForm> for service::invitations::NewInvitation {
    type Error = service::Error;
    fn try_from(f: InvitationForm) -> service::Result<Self> {
        let days = f.expires_in_days.trim().parse::<u32>().map_err(|_| {
            service::Error::validation(
                "expires_in_days",
                "invalid_value",
                "Choose an expiry from the list.",
            )
        })?;
        Ok(service::invitations::NewInvitation {
            email: f.email,
            roles: Some(f.roles).filter(|r| !r.is_empty()),
            group_ids: Vec::new(),
            message: f.message,
            expires_in_days: Some(days),
        })
    }
}

#[cfg(feature = "ssr")]
impl From<AcceptForm> for service::invitations::Acceptance {
    fn from(f: AcceptForm) -> Self {
        service::invitations::Acceptance {
            token: f.token,
            display_name: f.display_name,
            password: f.password,
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use crate::invitations::api::CreateInvitation;

    #[test]
    fn ticked_roles_arrive_in_order() {
        let posted =
            "email=ada%40example.com&roles[0]=viewer&roles[1]=member&message=&expires_in_days=7";
        let args: CreateInvitation = serde_qs::from_str(posted).unwrap();
        assert_eq!(args.form.roles, ["viewer", "member"]);
        let args: CreateInvitation = serde_qs::from_str("email=a%40b.c&expires_in_days=7").unwrap();
        assert!(args.form.roles.is_empty());
        let input = service::invitations::NewInvitation::try_from(args.form).unwrap();
        assert_eq!((input.roles, input.expires_in_days), (None, Some(7)));
    }
}
