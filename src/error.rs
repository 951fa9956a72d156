// Error kinds a caller matches on: usage errors (exit 2), hints that tell the user what
// to do next, and the recognition of a closed stdout.

use std::fmt;
use std::io;

/// A command line that parses but makes no sense (bad handle, unknown keyword): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for returning a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// A lookup that found nothing (missing key, empty queue): exit 1, and `null` on stdout in
/// JSON mode instead of an error object, as bpftool prints for a missing key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

pub fn not_found(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(NotFound(msg.into()))
}

pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<NotFound>().is_some())
}

/// A message for the user on what to do next, attached as context to an error.
/// It is printed on its own `hint:` line, not as part of the error chain.
#[derive(Debug)]
pub struct Hint {
    pub error: String,
    pub hint: String,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for Hint {}

/// An error that carries a hint.
pub fn hinted(error: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hint {
        error: error.into(),
        hint: hint.into(),
    })
}

pub fn hint_of(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Hint>())
        .map(|h| h.hint.as_str())
}

pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|e| e.downcast_ref::<UsageError>().is_some())
    {
        2
    } else {
        1
    }
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_2_through_context() {
        let err = Err::<(), _>(usage("bad handle"))
            .context("prog show")
            .unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), 1);
    }

    #[test]
    fn hints_are_found_in_the_chain() {
        let err = Err::<(), _>(hinted("no bpffs", "mount it"))
            .context("pinning")
            .unwrap_err();
        assert_eq!(hint_of(&err), Some("mount it"));
        assert_eq!(format!("{err:#}"), "pinning: no bpffs");
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&err));
    }
}
