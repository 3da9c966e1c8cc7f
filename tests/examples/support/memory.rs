//! The process's memory as Linux reports it, for the benchmarks that print
//! peak RSS (shared by including this file: examples are separate binaries).

/// A field of /proc/self/status (`VmRSS:`, `VmHWM:`), in KiB (0 where unreadable).
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak RSS (VmHWM) to the current RSS: Linux, writing 5 to clear_refs.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
