//! The process's open-file limit, raised at start to what the system allows.
//!
//! Every device connection is a socket, and a socket is an open file: under
//! the common default soft limit of 1,024 a broker stops accepting at about
//! the thousandth device. The node raises its soft limit to its hard limit
//! and, when it may (root, or `CAP_SYS_RESOURCE`), the hard limit to the
//! kernel's ceiling (`/proc/sys/fs/nr_open`); what it got is said in the
//! start message, and docs/operations.md says how to give it more
//! (systemd's `LimitNOFILE`, `ulimit -n`).

use std::fmt;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Files the node keeps for itself beyond device connections: its logs,
/// database connections, HTTP clients, the runtime's own descriptors.
pub const OPEN_FILES_RESERVED: u64 = 1_024;

/// Where the kernel's ceiling for any process's limit is read from.
const NR_OPEN_PATH: &str = "/proc/sys/fs/nr_open";

/// The open-file limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit now: what the process may open.
    pub now: u64,
    /// The hard limit now: how far an unprivileged process could still go.
    pub hard: u64,
}

impl OpenFiles {
    /// About how many device connections fit under the limit.
    pub fn connections(&self) -> u64 {
        self.now.saturating_sub(OPEN_FILES_RESERVED)
    }
}

impl fmt::Display for OpenFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.now > self.before {
            write!(
                f,
                "open-file limit {} (raised from {}): room for about {} device connections",
                self.now,
                self.before,
                self.connections()
            )
        } else {
            write!(
                f,
                "open-file limit {} (the most allowed here): room for about {} device connections; raise it with LimitNOFILE= or ulimit -n (docs/operations.md)",
                self.now,
                self.connections()
            )
        }
    }
}

/// Raises the soft open-file limit as far as the system allows; answers what
/// it was and what it is. Never fails: a limit that cannot be read or raised
/// is reported as it stands.
pub fn raise() -> OpenFiles {
    let Some((soft, hard)) = get() else {
        return OpenFiles {
            before: 0,
            now: 0,
            hard: 0,
        };
    };
    let ceiling = kernel_ceiling().unwrap_or(hard).max(hard);
    // With the privilege to raise the hard limit, go to the kernel's ceiling;
    // without it this fails and the hard limit is as far as the soft one goes.
    let (now, hard_now) = if ceiling > hard && set(ceiling, ceiling) {
        (ceiling, ceiling)
    } else if soft < hard && set(hard, hard) {
        (hard, hard)
    } else {
        (soft, hard)
    };
    OpenFiles {
        before: soft,
        now,
        hard: hard_now,
    }
}

fn kernel_ceiling() -> Option<u64> {
    std::fs::read_to_string(NR_OPEN_PATH)
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn get() -> Option<(u64, u64)> {
    let limit = getrlimit(Resource::Nofile);
    Some((
        limit.current.unwrap_or(u64::MAX),
        limit.maximum.unwrap_or(u64::MAX),
    ))
}

fn set(soft: u64, hard: u64) -> bool {
    let limit = Rlimit {
        current: Some(soft),
        maximum: Some(hard),
    };
    setrlimit(Resource::Nofile, limit).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_the_limit_and_reaches_at_least_the_hard_one() {
        let (soft, hard) = get().expect("the limit can be read");
        let raised = raise();
        assert_eq!(raised.before, soft);
        assert!(raised.now >= soft);
        assert!(
            raised.now >= hard,
            "the soft limit reaches the hard one: {raised:?}"
        );
        assert_eq!(get().map(|(s, _)| s), Some(raised.now));
        // A second call finds it raised and keeps it.
        let again = raise();
        assert_eq!(again.before, raised.now);
        assert_eq!(again.now, raised.now);
    }

    #[test]
    fn the_message_says_whether_it_was_raised() {
        let raised = OpenFiles {
            before: 1024,
            now: 1_048_576,
            hard: 1_048_576,
        };
        assert!(raised.to_string().contains("raised from 1024"));
        let stuck = OpenFiles {
            before: 1024,
            now: 1024,
            hard: 1024,
        };
        assert!(stuck.to_string().contains("LimitNOFILE"));
        assert_eq!(stuck.connections(), 1024 - OPEN_FILES_RESERVED);
    }
}
