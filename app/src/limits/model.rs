//! What the Limits screen shows, as it crosses the wire.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateView {
    /// `tenant`, `each person`, ...
    pub name: String,
    /// `500 a second, 1,000 at once`.
    pub limit: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaView {
    /// `Identities`.
    pub label: String,
    pub used: i64,
    /// None: no limit.
    pub limit: Option<i64>,
    /// Where the objects are listed.
    pub href: String,
}

impl QuotaView {
    /// The share used, 0-100 (0 with no limit).
    pub fn percent(&self) -> f64 {
        match self.limit {
            Some(l) if l > 0 => (self.used as f64 / l as f64 * 100.0).clamp(0.0, 100.0),
            Some(_) => 100.0,
            None => 0.0,
        }
    }

    /// `42 of 100`, or `42 (no limit)`.
    pub fn figure(&self) -> String {
        match self.limit {
            Some(l) => format!(
                "{} of {}",
                crate::format::count(self.used),
                crate::format::count(l)
            ),
            None => format!("{} (no limit)", crate::format::count(self.used)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourView {
    /// `14:00` (UTC).
    pub label: String,
    pub served: i64,
    pub refused: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsView {
    pub plan: String,
    pub enforced: bool,
    pub rates: Vec<RateView>,
    pub quotas: Vec<QuotaView>,
    pub hours: Vec<HourView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_reads_as_a_share_and_a_figure() {
        let q = |used, limit| QuotaView {
            label: "Identities".into(),
            used,
            limit,
            href: "/identities".into(),
        };
        assert_eq!(q(25, Some(100)).percent(), 25.0);
        assert_eq!(q(150, Some(100)).percent(), 100.0);
        assert_eq!(q(3, None).percent(), 0.0);
        assert_eq!(q(0, Some(0)).percent(), 100.0);
        assert_eq!(q(1200, Some(100000)).figure(), "1,200 of 100,000");
        assert_eq!(q(7, None).figure(), "7 (no limit)");
    }
}
