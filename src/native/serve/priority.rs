//! KMS service priority (`slmgr /cpri` low, `/spri` normal) as the process's
//! nice value. On Linux a nice value belongs to each thread, so "low" puts
//! every thread of the process at nice 10 or lower priority (threads
//! already lower, such as the registry writer's, keep theirs), and "normal"
//! gives each thread the value it had before. Raising priority back needs
//! CAP_SYS_NICE (or an RLIMIT_NICE allowing it); without it the setting is
//! stored and takes effect at the next start, and the settings say so.
use std::prelude::rust_2024::*;
#[cfg(target_os = "linux")]
use std::format;
use crate::model::admin::Priority;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The nice value of "low".
pub const LOW: i32 = 10;

pub struct Nice {
    /// Thread id → nice value before "low", for "normal".
    before: Mutex<BTreeMap<i32, i32>>,
}

impl Default for Nice {
    fn default() -> Self {
        Nice { before: Mutex::new(BTreeMap::new()) }
    }
}

impl Nice {
    /// What cannot be applied on this platform, if anything.
    pub fn note(&self) -> Option<String> {
        if cfg!(target_os = "linux") { None } else { Some("stored only: process priority is set on Linux hosts".into()) }
    }

    /// Applies `p` to every thread; a note if it could not be applied.
    pub fn set(&self, p: Priority) -> Option<String> {
        #[cfg(target_os = "linux")]
        {
            let mut before = self.before.lock().unwrap_or_else(|e| e.into_inner());
            let mut refused = 0usize;
            for tid in threads() {
                let Some(pid) = rustix::process::Pid::from_raw(tid) else { continue };
                let Ok(cur) = rustix::process::getpriority_process(Some(pid)) else { continue };
                let target = match p {
                    Priority::Low => {
                        before.entry(tid).or_insert(cur);
                        cur.max(LOW)
                    }
                    Priority::Normal => match before.get(&tid) {
                        Some(b) => *b,
                        None => continue,
                    },
                };
                if target != cur && rustix::process::setpriority_process(Some(pid), target).is_err() {
                    refused += 1;
                }
            }
            if p == Priority::Normal && refused == 0 {
                before.clear();
            }
            if refused > 0 {
                tracing::warn!(threads = refused, priority = p.as_str(), "could not change the priority of every thread");
                return Some(format!(
                    "stored; {} now needs CAP_SYS_NICE, so it takes effect when the host restarts",
                    if p == Priority::Normal { "raising the priority back" } else { "changing the priority" }
                ));
            }
            None
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (p, &self.before);
            self.note()
        }
    }
}

/// The process's thread ids.
#[cfg(target_os = "linux")]
fn threads() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{borrow::ToOwned, string::ToString, vec, vec::Vec};

    fn nice_of(tid: i32) -> i32 {
        rustix::process::getpriority_process(rustix::process::Pid::from_raw(tid)).unwrap()
    }

    #[test]
    fn low_puts_every_thread_at_nice_ten_or_lower() {
        // Its own process: the test harness's threads are this process's.
        let n = Nice::default();
        assert_eq!(n.set(Priority::Low), None);
        for tid in threads() {
            assert!(nice_of(tid) >= LOW, "thread {tid} at {}", nice_of(tid));
        }
    }
}
