//! Accept loops that survive running out of descriptors.

use std::time::{Duration, Instant};

/// How an accept loop waits after an error (the DNS server's TCP listeners and the admin
/// listener share it). Out of descriptors (EMFILE, ENFILE) or
/// memory, `accept` fails again at once for as long as that lasts: retrying at once would
/// spin a core. It sleeps instead, longer each time up to a second, and says so at warn
/// level at most every 10 seconds.
pub struct AcceptBackoff {
    listener: &'static str,
    pause: Duration,
    last_warning: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    /// The back-off of one listener, named in its warnings.
    pub fn new(listener: &'static str) -> AcceptBackoff {
        AcceptBackoff {
            listener,
            pause: Duration::ZERO,
            last_warning: None,
            suppressed: 0,
        }
    }

    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);
    const WARN_EVERY: Duration = Duration::from_secs(10);

    /// The pause after `err`; `None` for errors of one connection only (the client reset
    /// it before it was accepted), which need none.
    pub fn failed(&mut self, err: &std::io::Error) -> Option<Duration> {
        use std::io::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            tracing::debug!(%err, listener = self.listener, "accept");
            return None;
        }
        self.pause = (self.pause * 2).clamp(Self::FIRST, Self::MAX);
        if self
            .last_warning
            .is_none_or(|at| at.elapsed() >= Self::WARN_EVERY)
        {
            tracing::warn!(
                %err,
                listener = self.listener,
                pause = ?self.pause,
                suppressed = self.suppressed,
                "cannot accept TCP connections (out of file descriptors?); pausing"
            );
            self.last_warning = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        Some(self.pause)
    }

    /// After an accepted connection: the next error pauses briefly again.
    pub fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }
}
