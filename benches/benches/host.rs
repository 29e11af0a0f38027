//! Host snapshot cost (issue: host statistics). Reference: psutil takes about 340 µs for
//! the same full snapshot (per-core and total CPU, memory, swap, every disk's usage and
//! I/O, every interface's counters, load, boot time); the target is a third of that.
//! `bash benches/compare_psutil.sh` runs psutil and this bench side by side.
//!
//! - `host/full_snapshot`: one `HostSampler::sample()` on a warm sampler. sysinfo skips
//!   re-reading the CPU times when asked again within 200 ms, which would flatter a
//!   back-to-back loop, so the bench cycles through a pool of warm samplers and uses each
//!   at most every 200 ms: every timed sample reads everything, as one every 15 s does.
//! - `host/full_snapshot_relist`: the same plus `refresh_lists()` (the mount list, cgroup
//!   limits and OS name), which a sampler does by itself once a minute.
//!
//! Run: `cargo bench -p upwatch-benches --bench host`.

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_core::HostSampler;
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// sysinfo's `MINIMUM_CPU_UPDATE_INTERVAL`, with a margin.
const CPU_GAP: Duration = Duration::from_millis(210);

/// Warm samplers, each handed out again only once its CPU times are due for a real refresh.
struct Pool {
    samplers: VecDeque<(HostSampler, Instant)>,
}

impl Pool {
    fn new(size: usize) -> Pool {
        let mut samplers: VecDeque<(HostSampler, Instant)> = (0..size)
            .map(|_| {
                (
                    HostSampler::new().expect("host statistics on this platform"),
                    Instant::now(),
                )
            })
            .collect();
        for (s, used) in samplers.iter_mut() {
            black_box(s.sample());
            *used = Instant::now();
        }
        Pool { samplers }
    }

    /// Times `f` on the next sampler; waits (untimed) if it was used less than 200 ms ago.
    fn timed(&mut self, f: impl Fn(&mut HostSampler)) -> Duration {
        let (mut sampler, used) = self.samplers.pop_front().expect("a non-empty pool");
        let since = used.elapsed();
        if since < CPU_GAP {
            std::thread::sleep(CPU_GAP - since);
        }
        let t = Instant::now();
        f(&mut sampler);
        let took = t.elapsed();
        self.samplers.push_back((sampler, Instant::now()));
        took
    }
}

/// Open files of this process (Linux; 0 elsewhere).
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The soft limit on open files (Linux; `None` elsewhere).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// 3,000 samplers at ~0.1 ms a sample come round every ~300 ms: no waiting. A sampler keeps
/// its procfs and sysfs files open (3 here); under a low open-file limit the pool is smaller
/// (untimed waits then) rather than samplers falling back to opening files per sample.
fn pool_size() -> usize {
    let before = open_files();
    let probe = HostSampler::new().expect("host statistics on this platform");
    let per = open_files().saturating_sub(before).max(1);
    drop(probe);
    let fit = open_file_limit().map_or(usize::MAX, |limit| limit.saturating_sub(before + 64) / per);
    let size = fit.clamp(1, 3000);
    if size < 3000 {
        eprintln!(
            "a pool of {size} samplers ({per} open files each, open-file limit {:?})",
            open_file_limit()
        );
    }
    size
}

fn host(c: &mut Criterion) {
    let mut pool = Pool::new(pool_size());
    let mut group = c.benchmark_group("host");
    group.bench_function("full_snapshot", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    pool.timed(|s| {
                        black_box(s.sample());
                    })
                })
                .sum()
        })
    });
    group.bench_function("full_snapshot_relist", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    pool.timed(|s| {
                        s.refresh_lists();
                        black_box(s.sample());
                    })
                })
                .sum()
        })
    });
    group.finish();

    let snapshot = pool.samplers[0].0.sample();
    eprintln!(
        "snapshot: {} cores, {} disks, {} interfaces, {} processes, {} bytes of JSON",
        snapshot.cores,
        snapshot.disks.len(),
        snapshot.networks.len(),
        snapshot.processes,
        serde_json::to_string(&snapshot).unwrap().len()
    );
}

criterion_group!(benches, host);
criterion_main!(benches);
