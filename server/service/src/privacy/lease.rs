//! What the privacy workers share (exports, key jobs): a job is held under a lease that
//! each step renews, and fenced by its claim (`attempts`), which every write names; a
//! worker whose lease ran out and whose job another claimed writes nothing more and stops.

use crate::error::Error;

/// Why a job stopped before its end.
pub(crate) enum Stop {
    /// Another worker holds the job now (this one's lease ran out).
    Lost,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Failed(e.into())
    }
}

/// A step of a job.
pub(crate) type Step<T> = std::result::Result<T, Stop>;

/// `Ok` when a write fenced by the claim touched the job's row (the job is still this
/// worker's), else [`Stop::Lost`].
pub(crate) fn held(rows_affected: u64) -> Step<()> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(Stop::Lost)
    }
}
