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
}
