//! The process's memory as the kernel counts it, for `ward compile`'s report.

/// Resident set size and its peak, in bytes, from `/proc/self/status` (Linux only).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    pub current: u64,
    pub peak: u64,
}

pub fn rss() -> Option<Rss> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(Rss {
        current: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}
