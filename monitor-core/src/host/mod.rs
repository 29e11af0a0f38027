//! Host statistics: CPU (in total and per core), load, memory and swap, every disk,
//! every network interface, uptime, boot time, processes, host name, OS and cgroup
//! limits, taken by one long-lived [`HostSampler`] as a [`HostSnapshot`].
//!
//! CPU usage and the disk and network rates are differences between two readings, so
//! the sampler keeps state: make one and call [`HostSampler::sample`] again and again.
//! A [`Monitor`](crate::Monitor) does that every `host_interval` (15 s by default): it
//! publishes each snapshot as a `host_sampled` event, exports the latest to Prometheus
//! and keeps the last hour of them, so that `host` checks ([`crate::checks::host`]) can
//! judge conditions held over a window, like `cpu > 90% for 5m`.
//!
//! ```
//! use monitor_core::host::HostSampler;
//! let mut sampler = HostSampler::new().unwrap();
//! let first = sampler.sample();              // waits until 200 ms after new(), for CPU usage
//! let second = sampler.sample();             // has the disk and network rates since `first`
//! assert_eq!(second.cpus.len(), second.cores);
//! assert!(second.memory.total > 0 && first.networks.iter().all(|n| n.rx_bps.is_none()));
//! ```
//!
//! A sample refreshes only what it reports (`refresh_specifics`): CPU times and memory
//! through sysinfo's `System`, the space of every listed disk (`statvfs`). On Linux the
//! disk I/O counters come from `/sys/dev/block/<major>:<minor>/stat` (one small file per
//! device), the network counters from `/proc/net/dev` (one file for every interface),
//! both kept open and read again from their start; the process count from the entries of
//! `/proc` after its own files; load and uptime from sysinfo(2) and `CLOCK_BOOTTIME`, with
//! no file to read. Elsewhere all of them come from sysinfo. The list of mounts, the cgroup
//! limits and the OS name change rarely and are read again once a minute.

mod cgroup;
pub mod condition;
#[cfg(target_os = "linux")]
mod procfs;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System};
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, Event};

pub use condition::Condition;

/// How far back a monitor keeps snapshots, and so the longest `for` a condition may have.
pub const HISTORY: Duration = Duration::from_secs(3600);

/// At most this many snapshots are kept, whatever the interval (at 15 s, an hour is 240).
pub const MAX_SNAPSHOTS: usize = 4096;

/// How often the list of mounts, the cgroup limits and the OS name are read again.
const RELIST_EVERY: Duration = Duration::from_secs(60);

/// Why host statistics cannot be read (sysinfo does not support this platform).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("host statistics are unavailable: {message}")]
pub struct HostError {
    /// What failed.
    pub message: String,
}

impl HostError {
    fn new(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
        }
    }
}

/// Memory, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Physical memory.
    pub total: u64,
    /// `total - available`.
    pub used: u64,
    /// What can be given to programs without swapping (`MemAvailable` on Linux).
    pub available: u64,
    /// `used / total`, in percent.
    pub used_pct: f64,
}

/// Swap, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SwapStats {
    /// Swap space (0 without swap).
    pub total: u64,
    /// In use.
    pub used: u64,
    /// Not in use.
    pub free: u64,
    /// `used / total`, in percent (0 without swap).
    pub used_pct: f64,
}

/// One mounted file system.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskStats {
    /// Where it is mounted (`/`).
    pub mount: String,
    /// What is mounted (`/dev/nvme0n1p2`).
    pub device: String,
    /// The file system (`ext4`).
    pub fs: String,
    /// Size, in bytes.
    pub total: u64,
    /// `total - free` (blocks reserved for root count as used).
    pub used: u64,
    /// Bytes an unprivileged program can still write.
    pub free: u64,
    /// `used / total`, in percent.
    pub used_pct: f64,
    /// Bytes per second read from the block device since the previous sample (shared by every
    /// mount of the device); `null` on the first sample and without a block device (overlay, NFS).
    pub read_bps: Option<f64>,
    /// Bytes per second written, likewise.
    pub write_bps: Option<f64>,
}

/// One network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// Interface name (`eth0`).
    pub name: String,
    /// Bytes received since boot.
    pub rx_bytes: u64,
    /// Bytes sent since boot.
    pub tx_bytes: u64,
    /// Bytes per second received since the previous sample; `null` on the first sample.
    pub rx_bps: Option<f64>,
    /// Bytes per second sent since the previous sample; `null` on the first sample.
    pub tx_bps: Option<f64>,
    /// Receive errors since boot.
    pub rx_errors: u64,
    /// Transmit errors since boot.
    pub tx_errors: u64,
}

/// Limits of the cgroup this process runs in (the tightest from its cgroup up to the root).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// Memory limit in bytes (v2 `memory.max`, v1 `memory.limit_in_bytes`); `null` when unlimited.
    pub memory_limit: Option<u64>,
    /// CPU quota in cores (v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`); `null` when
    /// unlimited.
    pub cpu_limit_cores: Option<f64>,
}

/// The host at one moment. Its JSON is the body of the `host_sampled` event:
///
/// ```json
/// {"at":"2026-11-21T10:00:00Z","hostname":"web-1","os":"Linux (Debian GNU/Linux 12)",
///  "uptime_s":86400,"boot_time":"2026-11-20T10:00:00Z","cpu_pct":12.5,"cpus":[20.1,4.9],
///  "cores":2,"load1":0.4,"load5":0.3,"load15":0.2,
///  "memory":{"total":8589934592,"used":2147483648,"available":6442450944,"used_pct":25.0},
///  "swap":{"total":0,"used":0,"free":0,"used_pct":0.0},
///  "disks":[{"mount":"/","device":"/dev/vda","fs":"ext4","total":270553174016,"used":207113961472,
///            "free":63439212544,"used_pct":76.55,"read_bps":0.0,"write_bps":40960.0}],
///  "networks":[{"name":"eth0","rx_bytes":247754516,"tx_bytes":716496,"rx_bps":1520.4,"tx_bps":310.2,
///               "rx_errors":0,"tx_errors":0}],
///  "processes":83,"cgroup":null}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSnapshot {
    /// When the sample was taken.
    pub at: DateTime<Utc>,
    /// The host's name.
    pub hostname: String,
    /// The operating system (`Linux (Debian GNU/Linux 12)`).
    pub os: String,
    /// Seconds since boot.
    pub uptime_s: u64,
    /// When the host booted.
    pub boot_time: DateTime<Utc>,
    /// Busy time of all CPUs together since the previous sample, in percent (0 to 100).
    pub cpu_pct: f64,
    /// The same for each logical CPU, in the operating system's order.
    pub cpus: Vec<f64>,
    /// Logical CPUs.
    pub cores: usize,
    /// Load average over 1 minute (0 on Windows).
    pub load1: f64,
    /// Load average over 5 minutes.
    pub load5: f64,
    /// Load average over 15 minutes.
    pub load15: f64,
    /// Physical memory.
    pub memory: MemoryStats,
    /// Swap.
    pub swap: SwapStats,
    /// Mounted file systems (not pseudo ones such as proc, sysfs or tmpfs), in mount order.
    pub disks: Vec<DiskStats>,
    /// Network interfaces, in the operating system's order.
    pub networks: Vec<NetworkStats>,
    /// Processes running.
    pub processes: u64,
    /// Limits of this process's cgroup; `null` when it has none (or outside Linux).
    #[serde(default)]
    pub cgroup: Option<CgroupLimits>,
}

impl HostSnapshot {
    /// The disk mounted at `mount`.
    pub fn disk(&self, mount: &str) -> Option<&DiskStats> {
        self.disks.iter().find(|d| d.mount == mount)
    }

    /// The network interface called `name`.
    pub fn network(&self, name: &str) -> Option<&NetworkStats> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The snapshot as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a HostSnapshot always serializes")
    }
}

/// `part / whole` in percent, rounded to 0.01 (0 when `whole` is 0).
pub(crate) fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round2(part as f64 * 100.0 / whole as f64)
    }
}

fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// A counter's increase per second, or `None` without a previous reading or after a reset.
fn rate(previous: Option<u64>, now: u64, elapsed: f64) -> Option<f64> {
    let previous = previous?;
    (now >= previous && elapsed > 0.0).then(|| round2((now - previous) as f64 / elapsed))
}

/// Raw I/O counters of one mount or interface, kept for the next sample's rates.
#[derive(Clone, Debug, Default)]
struct Counters {
    key: String,
    a: u64,
    b: u64,
}

fn previous(list: &[Counters], key: &str) -> Option<(u64, u64)> {
    list.iter().find(|c| c.key == key).map(|c| (c.a, c.b))
}

/// One reported mount: its index in sysinfo's disk list and, on Linux, its device.
struct Mount {
    index: usize,
    /// Index in [`Procfs::devices`], when the file system is on a block device.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    device: Option<usize>,
}

/// A block device under one or more mounts: `/sys/dev/block/<major>:<minor>/stat`, kept open.
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct Device {
    path: PathBuf,
    stat: procfs::Reread,
}

/// The Linux files a sample reads, kept open between samples. A forked child opens its own
/// (the parent's share their file offsets with it, and `/proc`'s listing uses the offset).
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct Procfs {
    pid: u32,
    net_dev: Option<procfs::Reread>,
    proc_dir: Option<procfs::ProcDir>,
    devices: Vec<Device>,
    buf: Vec<u8>,
}

#[cfg(target_os = "linux")]
impl Procfs {
    fn open() -> Procfs {
        Procfs {
            pid: std::process::id(),
            net_dev: procfs::Reread::open("/proc/net/dev"),
            proc_dir: procfs::ProcDir::open(),
            devices: Vec::new(),
            buf: vec![0; 16 * 1024],
        }
    }

    /// The index of the device whose stat file is `path`: one already listed (bind mounts of
    /// one device read its counters once), one of the previous list (kept open) or a new one.
    fn device(&mut self, path: PathBuf, previous: &mut Vec<Device>) -> Option<usize> {
        if let Some(i) = self.devices.iter().position(|d| d.path == path) {
            return Some(i);
        }
        let device = match previous.iter().position(|d| d.path == path) {
            Some(i) => previous.swap_remove(i),
            None => Device {
                stat: procfs::Reread::open(&path)?,
                path,
            },
        };
        self.devices.push(device);
        Some(self.devices.len() - 1)
    }
}

/// Takes [`HostSnapshot`]s. Keep it: CPU usage and rates are measured between two samples,
/// and only what changes is read again (never `System::new_all()` per sample).
///
/// ```
/// use monitor_core::host::HostSampler;
/// let mut sampler = HostSampler::new().unwrap();
/// let snapshot = sampler.sample();
/// assert!(snapshot.disk("/").is_some() || cfg!(not(unix)));
/// ```
pub struct HostSampler {
    system: System,
    disks: Disks,
    #[cfg(not(target_os = "linux"))]
    networks: sysinfo::Networks,
    mounts: Vec<Mount>,
    listed_at: Option<Instant>,
    os: String,
    boot_time: DateTime<Utc>,
    cgroup: Option<CgroupLimits>,
    /// When the CPU times were first read (usage needs a second reading 200 ms later).
    created: Instant,
    sampled: Option<Instant>,
    disk_counters: Vec<Counters>,
    net_counters: Vec<Counters>,
    #[cfg(target_os = "linux")]
    procfs: Procfs,
}

impl HostSampler {
    /// A sampler with the CPU times read once, ready for [`HostSampler::sample`].
    pub fn new() -> Result<HostSampler, HostError> {
        let mut system = System::new().map_err(|e| HostError::new(e.to_string()))?;
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        let created = Instant::now();
        let disks = Disks::new().map_err(|e| HostError::new(e.to_string()))?;
        let boot = System::boot_time()
            .ok()
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(0);
        let mut sampler = HostSampler {
            system,
            disks,
            #[cfg(not(target_os = "linux"))]
            networks: sysinfo::Networks::new().map_err(|e| HostError::new(e.to_string()))?,
            mounts: Vec::new(),
            listed_at: None,
            os: String::new(),
            boot_time: DateTime::from_timestamp(boot, 0).unwrap_or_default(),
            cgroup: None,
            created,
            sampled: None,
            disk_counters: Vec::new(),
            net_counters: Vec::new(),
            #[cfg(target_os = "linux")]
            procfs: Procfs::open(),
        };
        sampler.refresh_lists();
        Ok(sampler)
    }

    /// Reads the host now. The first sample waits until 200 ms after [`HostSampler::new`]
    /// (CPU usage is measured between two readings of the CPU times); rates are `None` in it.
    pub fn sample(&mut self) -> HostSnapshot {
        if self.sampled.is_none() {
            let since = self.created.elapsed();
            if since < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
                std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL - since);
            }
        }
        #[cfg(target_os = "linux")]
        if self.procfs.pid != std::process::id() {
            self.procfs = Procfs::open();
            self.listed_at = None;
        }
        if self.listed_at.is_none_or(|t| t.elapsed() >= RELIST_EVERY) {
            self.refresh_lists();
        }
        let now = Instant::now();
        let at = Utc::now();
        let elapsed = self.sampled.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.system.refresh_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_usage())
                .with_memory(MemoryRefreshKind::everything()),
        );
        let cpus: Vec<f64> = self
            .system
            .cpus()
            .iter()
            .map(|c| round2(f64::from(c.usage())))
            .collect();
        #[cfg(target_os = "linux")]
        let (load1, load5, load15) = procfs::load_average();
        #[cfg(not(target_os = "linux"))]
        let (load1, load5, load15) = {
            let load = System::load_average().unwrap_or_default();
            (load.one, load.five, load.fifteen)
        };
        let memory = {
            let (total, available) = (self.system.total_memory(), self.system.available_memory());
            let used = total.saturating_sub(available);
            MemoryStats {
                total,
                used,
                available,
                used_pct: pct(used, total),
            }
        };
        let swap = {
            let (total, free) = (self.system.total_swap(), self.system.free_swap());
            let used = total.saturating_sub(free);
            SwapStats {
                total,
                used,
                free,
                used_pct: pct(used, total),
            }
        };
        let disks = self.sample_disks(elapsed);
        let networks = self.sample_networks(elapsed);
        let processes = self.count_processes();
        self.sampled = Some(now);
        HostSnapshot {
            at,
            hostname: System::host_name().unwrap_or_default(),
            os: self.os.clone(),
            #[cfg(target_os = "linux")]
            uptime_s: procfs::uptime_s(),
            #[cfg(not(target_os = "linux"))]
            uptime_s: System::uptime().unwrap_or(0),
            boot_time: self.boot_time,
            cpu_pct: round2(f64::from(self.system.global_cpu_usage())),
            cores: cpus.len(),
            cpus,
            load1,
            load5,
            load15,
            memory,
            swap,
            disks,
            networks,
            processes,
            cgroup: self.cgroup.clone(),
        }
    }

    /// Reads the list of mounts, the cgroup limits and the OS name again now (a sample
    /// does it by itself when they are a minute old), for example right after mounting a disk.
    pub fn refresh_lists(&mut self) {
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        let mut mounts: Vec<Mount> = Vec::with_capacity(self.disks.len());
        #[cfg(target_os = "linux")]
        let mut previous = std::mem::take(&mut self.procfs.devices);
        for (index, disk) in self.disks.iter().enumerate() {
            // Files bind-mounted into containers (/etc/hosts) are not disks.
            if !disk.mount_point().is_dir() {
                continue;
            }
            // A later mount on the same point hides the earlier one.
            mounts.retain(|m| self.disks[m.index].mount_point() != disk.mount_point());
            #[cfg(target_os = "linux")]
            let device = procfs::block_stat_path(disk.mount_point()).and_then(|p| self.procfs.device(p, &mut previous));
            #[cfg(not(target_os = "linux"))]
            let device = None;
            mounts.push(Mount { index, device });
        }
        self.mounts = mounts;
        self.cgroup = cgroup::limits();
        self.os = System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.to_string());
        self.listed_at = Some(Instant::now());
    }

    fn sample_disks(&mut self, elapsed: f64) -> Vec<DiskStats> {
        let refresh = if cfg!(target_os = "linux") {
            DiskRefreshKind::nothing().with_storage()
        } else {
            DiskRefreshKind::nothing().with_storage().with_io_usage()
        };
        for m in &self.mounts {
            self.disks[m.index].refresh_specifics(refresh);
        }
        let io = self.device_io();
        let mut counters = Vec::with_capacity(self.mounts.len());
        let mut out = Vec::with_capacity(self.mounts.len());
        for (m, io) in self.mounts.iter().zip(io) {
            let disk = &self.disks[m.index];
            let total = disk.total_space();
            let free = disk.available_space().min(total);
            let mount = disk.mount_point().to_string_lossy().into_owned();
            let (read_bps, write_bps) = match io {
                Some((read, written)) => {
                    let before = previous(&self.disk_counters, &mount);
                    counters.push(Counters {
                        key: mount.clone(),
                        a: read,
                        b: written,
                    });
                    (
                        rate(before.map(|b| b.0), read, elapsed),
                        rate(before.map(|b| b.1), written, elapsed),
                    )
                }
                None => (None, None),
            };
            out.push(DiskStats {
                used: total - free,
                used_pct: pct(total - free, total),
                device: disk.name().to_string_lossy().into_owned(),
                fs: disk.file_system().to_string_lossy().into_owned(),
                mount,
                total,
                free,
                read_bps,
                write_bps,
            });
        }
        self.disk_counters = counters;
        out
    }

    /// Bytes read and written so far by each mount's device (`None` without a block device).
    #[cfg(target_os = "linux")]
    fn device_io(&mut self) -> Vec<Option<(u64, u64)>> {
        let Procfs { devices, buf, .. } = &mut self.procfs;
        let io: Vec<Option<(u64, u64)>> = devices
            .iter()
            .map(|d| d.stat.read(buf).and_then(procfs::block_stat))
            .collect();
        self.mounts.iter().map(|m| m.device.and_then(|d| io[d])).collect()
    }

    /// Bytes read and written so far by each mount's disk, as sysinfo counts them.
    #[cfg(not(target_os = "linux"))]
    fn device_io(&mut self) -> Vec<Option<(u64, u64)>> {
        let usage = |m: &Mount| self.disks[m.index].usage();
        self.mounts
            .iter()
            .map(|m| Some((usage(m).total_read_bytes, usage(m).total_written_bytes)))
            .collect()
    }

    fn sample_networks(&mut self, elapsed: f64) -> Vec<NetworkStats> {
        #[cfg(target_os = "linux")]
        let list = match &self.procfs.net_dev {
            Some(file) => file.read(&mut self.procfs.buf).map(procfs::net_dev),
            None => procfs::read("/proc/net/dev", &mut String::new()).map(procfs::net_dev),
        }
        .unwrap_or_default();
        #[cfg(not(target_os = "linux"))]
        let list: Vec<NetworkStats> = {
            self.networks.refresh(true);
            self.networks
                .iter()
                .map(|(name, n)| NetworkStats {
                    name: name.to_string_lossy().into_owned(),
                    rx_bytes: n.total_received(),
                    tx_bytes: n.total_transmitted(),
                    rx_errors: n.total_errors_on_received(),
                    tx_errors: n.total_errors_on_transmitted(),
                    ..NetworkStats::default()
                })
                .collect()
        };
        let mut counters = Vec::with_capacity(list.len());
        let out = list
            .into_iter()
            .map(|mut n| {
                let before = previous(&self.net_counters, &n.name);
                n.rx_bps = rate(before.map(|b| b.0), n.rx_bytes, elapsed);
                n.tx_bps = rate(before.map(|b| b.1), n.tx_bytes, elapsed);
                counters.push(Counters {
                    key: n.name.clone(),
                    a: n.rx_bytes,
                    b: n.tx_bytes,
                });
                n
            })
            .collect();
        self.net_counters = counters;
        out
    }

    fn count_processes(&mut self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            self.procfs
                .proc_dir
                .as_mut()
                .and_then(procfs::ProcDir::count)
                .unwrap_or_else(procfs::count_processes)
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.system.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::All,
                true,
                sysinfo::ProcessRefreshKind::nothing(),
            );
            self.system.processes().len() as u64
        }
    }
}

impl std::fmt::Debug for HostSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSampler")
            .field("os", &self.os)
            .field("mounts", &self.mounts.len())
            .field("cgroup", &self.cgroup)
            .field("sampled", &self.sampled)
            .finish_non_exhaustive()
    }
}

/// What a [`Prober`](crate::Prober) shares about the host between runs: one sampler, made
/// on first use, and the recent snapshots, oldest first, fed by the monitor's sampling
/// task (or, without one, by the host checks themselves).
#[derive(Default)]
pub(crate) struct HostBoard {
    history: Mutex<History>,
    sampler: Mutex<Option<HostSampler>>,
}

#[derive(Default)]
struct History {
    snapshots: VecDeque<Arc<HostSnapshot>>,
    /// Set while a monitor samples on an interval.
    interval: Option<Duration>,
}

impl HostBoard {
    fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest snapshot.
    pub(crate) fn latest(&self) -> Option<Arc<HostSnapshot>> {
        self.history().snapshots.back().cloned()
    }

    /// The sampling interval of the monitor feeding the history, if one does.
    pub(crate) fn interval(&self) -> Option<Duration> {
        self.history().interval
    }

    pub(crate) fn set_interval(&self, every: Option<Duration>) {
        self.history().interval = every;
    }

    /// Calls `f` with the snapshots, newest first.
    pub(crate) fn with_snapshots<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &HostSnapshot>) -> R) -> R {
        let history = self.history();
        f(&mut history.snapshots.iter().rev().map(|s| &**s))
    }

    /// Appends a snapshot; drops those older than [`HISTORY`] and beyond [`MAX_SNAPSHOTS`].
    pub(crate) fn push(&self, snapshot: Arc<HostSnapshot>) {
        let mut history = self.history();
        let oldest = snapshot.at - HISTORY;
        history.snapshots.push_back(snapshot);
        while history
            .snapshots
            .front()
            .is_some_and(|s| s.at < oldest || history.snapshots.len() > MAX_SNAPSHOTS)
        {
            history.snapshots.pop_front();
        }
    }

    /// The latest snapshot if it is younger than `max_age`.
    fn recent(&self, max_age: Duration) -> Option<Arc<HostSnapshot>> {
        let latest = self.latest()?;
        let age = (Utc::now() - latest.at).to_std().unwrap_or_default();
        (age <= max_age).then_some(latest)
    }

    /// A snapshot no older than `max_age` (`None`: a new one), sampled on a blocking thread
    /// and added to the history. Cancelling the call does not lose the sampler or the snapshot.
    ///
    /// Outside a tokio runtime (a binding's thread, which blocks on this call anyway) the
    /// sample is taken on the calling thread: handing it to a blocking thread and back costs
    /// two thread wake-ups, about as much as the sample itself.
    pub(crate) async fn sample(self: &Arc<Self>, max_age: Option<Duration>) -> Result<Arc<HostSnapshot>, HostError> {
        if let Some(s) = max_age.and_then(|age| self.recent(age)) {
            return Ok(s);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return self.sample_blocking(max_age);
        }
        let board = self.clone();
        tokio::task::spawn_blocking(move || board.sample_blocking(max_age))
            .await
            .map_err(|e| HostError::new(format!("the sampling thread failed: {e}")))?
    }

    fn sample_blocking(&self, max_age: Option<Duration>) -> Result<Arc<HostSnapshot>, HostError> {
        let mut slot = self.sampler.lock().unwrap_or_else(|p| p.into_inner());
        // Another caller may have sampled while this one waited for the sampler.
        if let Some(s) = max_age.and_then(|age| self.recent(age)) {
            return Ok(s);
        }
        let sampler = match &mut *slot {
            Some(s) => s,
            None => slot.insert(HostSampler::new()?),
        };
        let snapshot = Arc::new(sampler.sample());
        self.push(snapshot.clone());
        Ok(snapshot)
    }
}

/// A monitor's sampling task: a snapshot every `every`, published on the bus, until `stop`.
pub(crate) async fn sample_loop(board: Arc<HostBoard>, bus: Bus, every: Duration, stop: CancellationToken) {
    board.set_interval(Some(every));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let sampled = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                s = board.sample(None) => s,
            },
        };
        match sampled {
            Ok(snapshot) => {
                bus.publish(Event::HostSampled(snapshot));
            }
            Err(e) => {
                tracing::warn!("host sampling stopped: {e}");
                break;
            }
        }
    }
    board.set_interval(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Arc<HostSnapshot> {
        let mut s = HostSampler::new().unwrap().sample();
        s.at = DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        Arc::new(s)
    }

    #[test]
    fn rates_need_a_previous_reading_and_survive_no_reset() {
        assert_eq!(rate(None, 100, 1.0), None);
        assert_eq!(rate(Some(100), 350, 2.0), Some(125.0));
        assert_eq!(rate(Some(500), 10, 1.0), None, "a counter reset gives no rate");
        assert_eq!(pct(1, 3), 33.33);
        assert_eq!(pct(5, 0), 0.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_forked_child_opens_its_own_files() {
        let mut sampler = HostSampler::new().unwrap();
        sampler.sample();
        // What a child sees right after fork(): the parent's pid and files.
        sampler.procfs.pid = 1;
        sampler.procfs.proc_dir = None;
        sampler.procfs.net_dev = None;
        let s = sampler.sample();
        assert_eq!(sampler.procfs.pid, std::process::id());
        assert!(sampler.procfs.proc_dir.is_some() && sampler.procfs.net_dev.is_some());
        assert!(s.processes > 1 && s.network("lo").is_some_and(|lo| lo.rx_bps.is_some()));
        assert!(s.uptime_s > 0 && s.load1 >= 0.0);
    }

    #[test]
    fn outside_a_runtime_the_calling_thread_samples() {
        // No runtime here: a spawn_blocking would panic.
        let board = Arc::new(HostBoard::default());
        let first = futures::executor::block_on(board.sample(None)).unwrap();
        let again = futures::executor::block_on(board.sample(Some(Duration::from_secs(60)))).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "a recent snapshot is answered from the history"
        );
        let fresh = futures::executor::block_on(board.sample(Some(Duration::ZERO))).unwrap();
        assert!(!Arc::ptr_eq(&first, &fresh) && board.history().snapshots.len() == 2);

        // Inside a runtime a blocking thread samples, as before (a worker never waits on procfs).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let on_rt = rt.block_on(async { board.sample(None).await }).unwrap();
        assert_eq!(board.latest().map(|l| Arc::ptr_eq(&l, &on_rt)), Some(true));
    }

    #[test]
    fn the_history_keeps_an_hour() {
        let board = HostBoard::default();
        let template = at(0);
        for i in 0..5000 {
            let mut s = (*template).clone();
            s.at = template.at + chrono::Duration::seconds(i);
            board.push(Arc::new(s));
        }
        let history = board.history();
        assert_eq!(history.snapshots.len(), 3601, "an hour at 1 s, both ends included");
        assert_eq!(
            history.snapshots.back().unwrap().at - history.snapshots.front().unwrap().at,
            chrono::Duration::hours(1)
        );
        drop(history);

        let board = HostBoard::default();
        for i in 0..(MAX_SNAPSHOTS as i64 + 10) {
            let mut s = (*template).clone();
            s.at = template.at + chrono::Duration::milliseconds(100 * i);
            board.push(Arc::new(s));
        }
        assert_eq!(board.history().snapshots.len(), MAX_SNAPSHOTS);
    }
}
