//! Every column that holds personal data, and how it is kept: the one list
//! (docs/data-protection.md, "Personal columns"). A test checks it against the schema and
//! fills every one of them through every door with a canary that must then appear nowhere
//! in a dump of the database.

/// How a personal column keeps its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// An envelope under the person's key (or the tenant's data key, for data with no one
    /// person behind it).
    Sealed,
    /// Sealed by the master key, bound to its row (mail, which the server must send even
    /// for a tenant whose keys it does not hold in memory).
    SealedByMaster,
    /// A keyed hash of the normalised value (equality lookups, uniqueness).
    BlindIndex,
    /// Keyed hashes of the value's short runs of characters (substring search).
    Grams,
    /// Keyed hashes of the value's stemmed words, with their positions (keyword search).
    KeyedWords,
    /// JSON whose personal values are markers sealed under the person's key.
    Markers,
    /// Derived from the value and kept in the clear (a vector, not text); deleted with it.
    Derived,
    /// The value in plain text, in rows written before field-level encryption only: empty
    /// (`null` or `''`) once the sealing job has passed, and never written now.
    Legacy,
}

/// A column holding personal data.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub table: &'static str,
    pub column: &'static str,
    pub kept: Kept,
    /// What it holds.
    pub holds: &'static str,
}

const fn col(table: &'static str, column: &'static str, kept: Kept, holds: &'static str) -> Column {
    Column {
        table,
        column,
        kept,
        holds,
    }
}

/// Every column of the schema that holds personal data. Columns not listed hold none by
/// design: an identity's `metadata` and `external_id`, API keys' names, memories' tags,
/// source and metadata, group and role names are the tenant's labels, searchable and seen
/// by policies; personal data goes in `personal_metadata`.
pub const PERSONAL: &[Column] = &[
    col(
        "identities",
        "email_sealed",
        Kept::Sealed,
        "a person's address",
    ),
    col(
        "identities",
        "display_name_sealed",
        Kept::Sealed,
        "a person's name",
    ),
    col(
        "identities",
        "personal_metadata_sealed",
        Kept::Sealed,
        "metadata marked personal",
    ),
    col(
        "identities",
        "email_index",
        Kept::BlindIndex,
        "a person's address",
    ),
    col(
        "identities",
        "name_grams",
        Kept::Grams,
        "a person's name and address",
    ),
    col("identities", "email", Kept::Legacy, "a person's address"),
    col(
        "identities",
        "display_name",
        Kept::Legacy,
        "a person's name",
    ),
    col(
        "invitations",
        "email_sealed",
        Kept::Sealed,
        "the invited address",
    ),
    col(
        "invitations",
        "message_sealed",
        Kept::Sealed,
        "the inviter's message",
    ),
    col(
        "invitations",
        "email_index",
        Kept::BlindIndex,
        "the invited address",
    ),
    col("invitations", "email", Kept::Legacy, "the invited address"),
    col(
        "invitations",
        "message",
        Kept::Legacy,
        "the inviter's message",
    ),
    col("memories", "text_sealed", Kept::Sealed, "a memory's text"),
    col("memories", "search", Kept::KeyedWords, "a memory's words"),
    col(
        "memories",
        "content_hash",
        Kept::BlindIndex,
        "a memory's text",
    ),
    col(
        "memories",
        "embedding",
        Kept::Derived,
        "what a memory's text is about",
    ),
    col("memories", "text", Kept::Legacy, "a memory's text"),
    col(
        "sso_links",
        "email_sealed",
        Kept::Sealed,
        "the address a provider vouched for",
    ),
    col(
        "sso_links",
        "email",
        Kept::Legacy,
        "the address a provider vouched for",
    ),
    col(
        "mail_outbox",
        "body_sealed",
        Kept::SealedByMaster,
        "a mail's recipient, subject and text",
    ),
    col(
        "mail_outbox",
        "to_index",
        Kept::BlindIndex,
        "a mail's recipient",
    ),
    col(
        "mail_outbox",
        "to_address",
        Kept::Legacy,
        "a mail's recipient",
    ),
    col(
        "mail_outbox",
        "subject",
        Kept::Legacy,
        "a mail's subject (the inviter's name)",
    ),
    col(
        "audit_log",
        "before",
        Kept::Markers,
        "a snapshot's personal fields",
    ),
    col(
        "audit_log",
        "after",
        Kept::Markers,
        "a snapshot's personal fields",
    ),
    col(
        "outbox_events",
        "payload",
        Kept::Markers,
        "an event's personal fields",
    ),
    col(
        "privacy_exports",
        "document",
        Kept::Sealed,
        "everything held about a person",
    ),
];
