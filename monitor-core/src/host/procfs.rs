//! Linux counters read straight from procfs and sysfs, where sysinfo would read more files:
//! every interface from `/proc/net/dev` in one read (sysinfo opens about ten files per
//! interface and calls `getifaddrs`), a device's I/O from its own `stat` file (sysinfo
//! reads all of `/proc/diskstats` once per disk) and the process count from `/proc`.
//!
//! What a sample reads again is kept open ([`Reread`], [`ProcDir`]): on this kind of
//! machine opening a small procfs or sysfs file (path lookup, open, close) costs as much
//! as reading it, and `/proc`'s own ~60 entries cost more to list than its processes.

use std::fs::File;
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, RawDir, SeekFrom};

use super::NetworkStats;

/// Reads a small file into `buf` (reused between samples).
pub(super) fn read<P: AsRef<Path>>(path: P, buf: &mut String) -> Option<&str> {
    buf.clear();
    File::open(path).and_then(|mut f| f.read_to_string(buf)).ok()?;
    Some(buf)
}

/// A procfs or sysfs file kept open and read again from offset 0 with `pread`: the kernel
/// builds the text anew for every read that starts at 0 (seq_file), so each sample sees
/// fresh counters without the path lookup, open and close of the file.
#[derive(Debug)]
pub(super) struct Reread {
    file: File,
}

impl Reread {
    pub(super) fn open(path: impl AsRef<Path>) -> Option<Reread> {
        File::open(path).ok().map(|file| Reread { file })
    }

    /// The whole file now, in `buf` (grown as needed and kept between samples).
    pub(super) fn read<'a>(&self, buf: &'a mut Vec<u8>) -> Option<&'a str> {
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize((buf.len() * 2).max(4096), 0);
            }
            match self.file.read_at(&mut buf[filled..], filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        std::str::from_utf8(&buf[..filled]).ok()
    }
}

/// `/proc` kept open, for counting processes: each count seeks to where the process
/// entries start (just before `self`, found once) and lists from there with getdents64,
/// skipping `/proc`'s own files, which take longer to list than a hundred processes.
pub(super) struct ProcDir {
    fd: OwnedFd,
    /// The seek cookie of the `self` entry (0 when it was not found: everything is listed).
    start: u64,
    buf: Vec<MaybeUninit<u8>>,
}

impl std::fmt::Debug for ProcDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcDir")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl ProcDir {
    pub(super) fn open() -> Option<ProcDir> {
        Self::open_at(Path::new("/proc"))
    }

    fn open_at(path: &Path) -> Option<ProcDir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty()).ok()?;
        let mut dir = ProcDir {
            fd,
            start: 0,
            buf: vec![MaybeUninit::uninit(); 32 * 1024],
        };
        dir.start = dir.self_cookie();
        Some(dir)
    }

    /// The cookie to seek to for listing from `self` on: the previous entry's "next" cookie.
    fn self_cookie(&mut self) -> u64 {
        if rustix::fs::seek(&self.fd, SeekFrom::Start(0)).is_err() {
            return 0;
        }
        let mut entries = RawDir::new(&self.fd, &mut self.buf);
        let mut before = 0;
        while let Some(Ok(entry)) = entries.next() {
            if entry.file_name().to_bytes() == b"self" {
                return before;
            }
            before = entry.next_entry_cookie();
        }
        0
    }

    /// Processes: the numeric entries of `/proc`.
    pub(super) fn count(&mut self) -> Option<u64> {
        let mut n = 0;
        self.each_process(|_| n += 1)?;
        Some(n)
    }

    /// Calls `f` with the name (the pid) of every numeric entry.
    fn each_process(&mut self, mut f: impl FnMut(&[u8])) -> Option<()> {
        rustix::fs::seek(&self.fd, SeekFrom::Start(self.start)).ok()?;
        let mut entries = RawDir::new(&self.fd, &mut self.buf);
        while let Some(entry) = entries.next() {
            let entry = entry.ok()?;
            let name = entry.file_name().to_bytes();
            if name.first().is_some_and(u8::is_ascii_digit) {
                f(name);
            }
        }
        Some(())
    }
}

/// Load averages over 1, 5 and 15 minutes from sysinfo(2), rounded to 0.01 exactly as
/// `/proc/loadavg` prints them (both show the kernel's `avenrun`), without a file to read.
pub(super) fn load_average() -> (f64, f64, f64) {
    let loads = rustix::system::sysinfo().loads;
    // c_ulong: 32 bits on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let load = |i: usize| loadavg_value(u64::from(loads[i]));
    (load(0), load(1), load(2))
}

/// One sysinfo(2) load (16 fractional bits) as `/proc/loadavg` prints it: the kernel's 11-bit
/// fixed point, plus 0.005 for rounding, cut to two decimals.
fn loadavg_value(si_load: u64) -> f64 {
    const FSHIFT: u32 = 11;
    const FIXED_1: u64 = 1 << FSHIFT;
    let avenrun = (si_load >> (16 - FSHIFT)) + FIXED_1 / 200;
    let whole = avenrun >> FSHIFT;
    let hundredths = ((avenrun & (FIXED_1 - 1)) * 100) >> FSHIFT;
    // One division of an exact integer: the same f64 as parsing the printed "6.70".
    (whole * 100 + hundredths) as f64 / 100.0
}

/// Whole seconds since boot, from sysinfo(2) (the kernel's `CLOCK_BOOTTIME`, which
/// `/proc/uptime` prints). A syscall, not the vDSO: reading the vDSO's ELF header is an
/// invalid read to valgrind, which runs the C library's tests.
pub(super) fn uptime_s() -> u64 {
    // c_long: 32 bits on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    u64::try_from(i64::from(rustix::system::sysinfo().uptime)).unwrap_or(0)
}

/// Every interface of `/proc/net/dev`: bytes and errors each way (rates are left to the caller).
pub(super) fn net_dev(text: &str) -> Vec<NetworkStats> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let mut fields = counters.split_ascii_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
            let mut next = |skip: usize| fields.nth(skip).unwrap_or(0);
            // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs ...
            let rx_bytes = next(0);
            let rx_errors = next(1);
            let tx_bytes = next(5);
            let tx_errors = next(1);
            Some(NetworkStats {
                name: name.trim().to_string(),
                rx_bytes,
                tx_bytes,
                rx_errors,
                tx_errors,
                ..NetworkStats::default()
            })
        })
        .collect()
}

/// Bytes read and written from a block device's `stat` file (counted in 512-byte sectors).
pub(super) fn block_stat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    // reads merges sectors_read ticks writes merges sectors_written ...
    let read = fields.nth(2)?.parse::<u64>().ok()?;
    let written = fields.nth(3)?.parse::<u64>().ok()?;
    Some((read * 512, written * 512))
}

/// The `stat` file of the block device a mount point lives on, if it is on one.
pub(super) fn block_stat_path(mount: &Path) -> Option<PathBuf> {
    let dev = std::fs::metadata(mount).ok()?.dev();
    // glibc's major()/minor() encoding of a dev_t.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
    if major == 0 {
        return None; // anonymous: overlay, btrfs subvolumes, network file systems
    }
    let path = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
    path.exists().then_some(path)
}

/// Processes: the numeric entries of `/proc`, listed with `read_dir` (when [`ProcDir`] fails).
pub(super) fn count_processes() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().as_encoded_bytes().first().is_some_and(u8::is_ascii_digit))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_columns() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 4341253017 41479187    0    0    0     0          0         0 4341253017 41479187    0    0    0     0       0          0
  eth0:12345678901 200 3 0 0 0 0 0 98765 100 7 0 0 0 0 0
";
        let list = net_dev(text);
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].name.as_str(), list[0].rx_bytes, list[0].tx_bytes),
            ("lo", 4341253017, 4341253017)
        );
        let eth = &list[1];
        assert_eq!(
            (
                eth.name.as_str(),
                eth.rx_bytes,
                eth.rx_errors,
                eth.tx_bytes,
                eth.tx_errors
            ),
            ("eth0", 12345678901, 3, 98765, 7)
        );
    }

    #[test]
    fn block_stat_counts_sectors() {
        let text = "  810725    20774 35948522  2145930    60827    81574 62309288   209632        0    82056  2361484";
        assert_eq!(block_stat(text), Some((35948522 * 512, 62309288 * 512)));
        assert_eq!(block_stat("1 2"), None);
    }

    /// Retries `f` a few times: other processes start and end while a test compares two reads.
    fn eventually(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..20 {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn the_proc_walk_from_self_counts_what_read_dir_counts() {
        let mut dir = ProcDir::open().unwrap();
        assert!(dir.start > 0, "/proc's own entries come before `self`: {dir:?}");
        assert!(
            eventually(|| dir.count() == Some(count_processes())),
            "{:?} vs {}",
            dir.count(),
            count_processes()
        );
        // Child processes are listed, and no longer once they are gone (by pid: other
        // processes on the machine come and go meanwhile, so counts alone would be flaky).
        let pids = |dir: &mut ProcDir| {
            let mut pids = Vec::new();
            dir.each_process(|name| pids.push(String::from_utf8_lossy(name).into_owned()))
                .unwrap();
            pids
        };
        let mut children: Vec<_> = (0..3)
            .map(|_| std::process::Command::new("sleep").arg("30").spawn().unwrap())
            .collect();
        let listed = pids(&mut dir);
        assert!(children.iter().all(|c| listed.contains(&c.id().to_string())));
        assert!(listed.contains(&std::process::id().to_string()));
        for c in &mut children {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        let listed = pids(&mut dir);
        assert!(!children.iter().any(|c| listed.contains(&c.id().to_string())));

        // A directory without `self` is listed from its start.
        let plain = tempfile::tempdir().unwrap();
        for name in ["1", "22", "x"] {
            std::fs::write(plain.path().join(name), "").unwrap();
        }
        let mut dir = ProcDir::open_at(plain.path()).unwrap();
        assert_eq!((dir.start, dir.count()), (0, Some(2)));
    }

    #[test]
    fn a_kept_file_reads_fresh_text_each_time() {
        let uptime = Reread::open("/proc/uptime").unwrap();
        let mut buf = Vec::new();
        let first = uptime.read(&mut buf).unwrap().to_string();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = uptime.read(&mut buf).unwrap().to_string();
        assert_ne!(first, second);
        // Longer than the buffer it starts with, and read whole.
        let big = tempfile::NamedTempFile::new().unwrap();
        let text = "0123456789abcdef".repeat(1000);
        std::fs::write(big.path(), &text).unwrap();
        let mut buf = Vec::new();
        assert_eq!(Reread::open(big.path()).unwrap().read(&mut buf), Some(text.as_str()));
        assert!(Reread::open("/proc/no-such-file").is_none());
    }

    #[test]
    fn load_and_uptime_match_the_proc_files() {
        assert_eq!(loadavg_value(65536), 1.0);
        assert_eq!(loadavg_value(32768), 0.5);
        assert_eq!(loadavg_value(0), 0.0);
        assert_eq!(loadavg_value(3 * 65536 + 65536 / 4), 3.25);
        // 6 + 0.7 is not the f64 of "6.70"; 670 / 100 is.
        assert_eq!(loadavg_value(439424), "6.70".parse::<f64>().unwrap());
        for hundredths in 0..5000u64 {
            // The smallest 11-bit `avenrun` at or above hundredths / 100 (the kernel's +0.005
            // rounding then stays below the next hundredth).
            let si_load = (hundredths * 2048).div_ceil(100) << 5;
            let printed = format!("{}.{:02}", hundredths / 100, hundredths % 100);
            assert_eq!(loadavg_value(si_load), printed.parse::<f64>().unwrap(), "{printed}");
        }
        let mut buf = String::new();
        assert!(eventually(|| {
            let text = read("/proc/loadavg", &mut buf).unwrap();
            let file: Vec<f64> = text.split(' ').take(3).map(|v| v.parse().unwrap()).collect();
            let (a, b, c) = load_average();
            file == [a, b, c]
        }));
        assert!(eventually(|| {
            let text = read("/proc/uptime", &mut buf).unwrap();
            // sysinfo(2) rounds a started second up; /proc/uptime prints it cut down.
            let file = text.split('.').next().unwrap().parse::<u64>().unwrap();
            (file..=file + 1).contains(&uptime_s())
        }));
    }

    #[test]
    fn the_root_file_system_and_this_process_are_found() {
        assert!(count_processes() >= 1);
        let me = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy() == std::process::id().to_string());
        assert!(me);
    }
}
