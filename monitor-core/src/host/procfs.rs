//! Linux counters read straight from procfs and sysfs, where sysinfo would read more files:
//! every interface from `/proc/net/dev` in one read (sysinfo opens about ten files per
//! interface and calls `getifaddrs`), a device's I/O from its own `stat` file (sysinfo
//! reads all of `/proc/diskstats` once per disk) and the process count from `/proc`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::NetworkStats;

/// Reads a small file into `buf` (reused between samples).
pub(super) fn read<P: AsRef<Path>>(path: P, buf: &mut String) -> Option<&str> {
    buf.clear();
    File::open(path).and_then(|mut f| f.read_to_string(buf)).ok()?;
    Some(buf)
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

/// Processes: the numeric entries of `/proc`.
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
