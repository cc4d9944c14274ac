//! Input checks shared by the areas. Each returns field errors rather than failing fast,
//! so a form can show every problem at once.

use crate::error::FieldError;

/// Lower-cased, trimmed email, or a field error. Deliberately simple: one `@`, a dot in the
/// domain, no spaces. Deliverability is proven by invitations, not by a regex.
pub fn email(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = raw.trim().to_lowercase();
    let valid = value.len() <= 320
        && !value.chars().any(char::is_whitespace)
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Some(value)
    } else {
        errors.push(FieldError::new(
            field,
            "invalid_email",
            "Enter a valid email address, like ada@example.com.",
        ));
        None
    }
}

/// Trimmed text with a maximum length in characters; empty is allowed unless `required`.
pub fn text(
    field: &str,
    raw: &str,
    max_chars: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = raw.trim();
    if required && value.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "This field is required.",
        ));
        return None;
    }
    if value.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("Use at most {max_chars} characters."),
        ));
        return None;
    }
    if value.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new(
            field,
            "invalid_characters",
            "Control characters are not allowed.",
        ));
        return None;
    }
    Some(value.to_owned())
}

/// A metadata document must be a JSON object of bounded size.
pub fn metadata(field: &str, value: &serde_json::Value, errors: &mut Vec<FieldError>) {
    if !value.is_object() {
        errors.push(FieldError::new(
            field,
            "not_an_object",
            "Metadata must be a JSON object.",
        ));
    } else if value.to_string().len() > 16 * 1024 {
        errors.push(FieldError::new(
            field,
            "too_large",
            "Metadata must be at most 16 KiB.",
        ));
    }
}

/// Passwords: length only (NIST SP 800-63B), at least 12 characters, at most 256.
pub fn password(field: &str, raw: &str, errors: &mut Vec<FieldError>) {
    let n = raw.chars().count();
    if n < 12 {
        errors.push(FieldError::new(
            field,
            "too_short",
            "Use at least 12 characters.",
        ));
    } else if n > 256 {
        errors.push(FieldError::new(
            field,
            "too_long",
            "Use at most 256 characters.",
        ));
    }
}

/// A value chosen from a fixed list (an identity's kind, a status filter, a search mode):
/// both doors read it through here, so the accepted spellings and the error naming them
/// exist once.
pub trait Choice: Sized + Copy + 'static {
    /// The input field that carries the value, named in the error.
    const FIELD: &'static str;
    /// Every accepted spelling, in the order the error lists them.
    const NAMES: &'static [(&'static str, Self)];

    /// The value spelled `s` exactly, if there is one.
    fn parse(s: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, value)| *value)
    }

    /// The value spelled `s` (trimmed), or a field error listing what is accepted.
    fn read(s: &str) -> crate::Result<Self> {
        let s = s.trim();
        Self::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMES.iter().map(|(name, _)| *name).collect();
            let list = match names.split_last() {
                Some((last, [])) => (*last).to_owned(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            crate::Error::validation(
                Self::FIELD,
                "invalid_value",
                format!("{} must be {list}, not \"{s}\"", Self::FIELD),
            )
        })
    }

    /// Like [`Choice::read`], with an absent or blank value read as `None`.
    fn read_opt(s: Option<&str>) -> crate::Result<Option<Self>> {
        match s.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => Self::read(s).map(Some),
        }
    }

    /// Like [`Choice::read_opt`], with `None` read as the default.
    fn read_or_default(s: Option<&str>) -> crate::Result<Self>
    where
        Self: Default,
    {
        Self::read_opt(s).map(Option::unwrap_or_default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        let mut errors = vec![];
        assert_eq!(
            email("email", "  Ada@Example.COM ", &mut errors).as_deref(),
            Some("ada@example.com")
        );
        assert!(errors.is_empty());
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@example",
            "a@b@c.com",
            "ada@.com",
        ] {
            let mut errors = vec![];
            assert!(email("email", bad, &mut errors).is_none(), "{bad} accepted");
            assert_eq!(errors[0].code, "invalid_email");
        }
    }

    #[test]
    fn text_limits_and_required() {
        let mut errors = vec![];
        assert_eq!(
            text("name", "  x ", 5, true, &mut errors).as_deref(),
            Some("x")
        );
        assert!(text("name", "   ", 5, true, &mut errors).is_none());
        assert!(text("name", "abcdef", 5, false, &mut errors).is_none());
        assert!(text("name", "a\u{0}b", 5, false, &mut errors).is_none());
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["required", "too_long", "invalid_characters"]);
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        let mut errors = vec![];
        metadata("metadata", &serde_json::json!({"a": 1}), &mut errors);
        assert!(errors.is_empty());
        metadata("metadata", &serde_json::json!([1]), &mut errors);
        metadata(
            "metadata",
            &serde_json::json!({"a": "x".repeat(20_000)}),
            &mut errors,
        );
        assert_eq!(errors.len(), 2);
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Colour {
        Red,
        Blue,
    }

    impl Choice for Colour {
        const FIELD: &'static str = "colour";
        const NAMES: &'static [(&'static str, Self)] =
            &[("red", Colour::Red), ("blue", Colour::Blue)];
    }

    #[test]
    fn a_choice_is_read_once_with_one_message() {
        assert_eq!(Colour::read(" blue ").ok(), Some(Colour::Blue));
        assert_eq!(Colour::read_opt(Some("")).ok(), Some(None));
        assert_eq!(Colour::read_opt(None).ok(), Some(None));
        let Err(crate::Error::Validation(errors)) = Colour::read("green") else {
            panic!("green is not a colour here");
        };
        assert_eq!(errors[0].field, "colour");
        assert_eq!(errors[0].code, "invalid_value");
        assert_eq!(
            errors[0].message,
            "colour must be red or blue, not \"green\""
        );
    }
}
