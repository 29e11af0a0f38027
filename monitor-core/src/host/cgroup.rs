//! Memory and CPU limits of the cgroup this process runs in, from `/sys/fs/cgroup`.
//!
//! cgroup v2: `memory.max` and `cpu.max` (`"150000 100000"` is 1.5 cores, `"max ..."` no
//! limit). cgroup v1 (also the hybrid layout, where v1 controllers win): the `memory`
//! hierarchy's `memory.limit_in_bytes` and the `cpu` hierarchy's `cpu.cfs_quota_us` /
//! `cpu.cfs_period_us` (a quota of -1 is no limit). A limit set on a parent cgroup binds
//! its children too, so every level from the process's cgroup up to the root is read and
//! the tightest limit counts.

use std::path::{Path, PathBuf};

use super::CgroupLimits;

/// v1 writes "no limit" as a huge number (`PAGE_COUNTER_MAX` pages); anything this large is none.
const V1_UNLIMITED: u64 = 1 << 62;

/// The limits of this process's cgroup; `None` when it has none (or outside Linux).
pub(super) fn limits() -> Option<CgroupLimits> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    read_limits(Path::new("/sys/fs/cgroup"), &membership)
}

/// The limits under the cgroup file system mounted at `root`, for a process whose
/// `/proc/self/cgroup` reads `membership`.
pub(super) fn read_limits(root: &Path, membership: &str) -> Option<CgroupLimits> {
    let memory_limit = memory_limit(root, membership);
    let cpu_limit_cores = cpu_limit(root, membership);
    (memory_limit.is_some() || cpu_limit_cores.is_some()).then_some(CgroupLimits {
        memory_limit,
        cpu_limit_cores,
    })
}

/// The cgroup path of a v1 controller (`"4:memory:/docker/abc"`), or of v2 (`"0::/user.slice"`)
/// for `controller = None`.
fn path_of<'a>(membership: &'a str, controller: Option<&str>) -> Option<&'a str> {
    membership.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match controller {
            None => id == "0" && controllers.is_empty(),
            Some(c) => controllers.split(',').any(|x| x == c),
        };
        wanted.then_some(path)
    })
}

/// Every cgroup directory from `base/path` up to `base`, deepest first.
fn levels(base: &Path, path: &str) -> Vec<PathBuf> {
    let mut dir = base.to_path_buf();
    let mut out = vec![dir.clone()];
    for part in path.split('/').filter(|p| !p.is_empty() && *p != "." && *p != "..") {
        dir.push(part);
        out.push(dir.clone());
    }
    out.reverse();
    out
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn tightest<T: PartialOrd>(values: impl Iterator<Item = T>) -> Option<T> {
    values.fold(None, |best, v| match best {
        Some(b) if b <= v => Some(b),
        _ => Some(v),
    })
}

fn memory_limit(root: &Path, membership: &str) -> Option<u64> {
    let v1 = root.join("memory");
    if let Some(path) = path_of(membership, Some("memory")).filter(|_| v1.is_dir()) {
        return tightest(levels(&v1, path).iter().filter_map(|dir| {
            let n: u64 = read_trimmed(&dir.join("memory.limit_in_bytes"))?.parse().ok()?;
            (n < V1_UNLIMITED).then_some(n)
        }));
    }
    let path = path_of(membership, None)?;
    tightest(
        levels(root, path)
            .iter()
            .filter_map(|dir| read_trimmed(&dir.join("memory.max"))?.parse::<u64>().ok()),
    )
}

fn cpu_limit(root: &Path, membership: &str) -> Option<f64> {
    let v1 = ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.is_dir());
    if let (Some(v1), Some(path)) = (v1, path_of(membership, Some("cpu"))) {
        return tightest(levels(&v1, path).iter().filter_map(|dir| {
            let quota: i64 = read_trimmed(&dir.join("cpu.cfs_quota_us"))?.parse().ok()?;
            let period: i64 = read_trimmed(&dir.join("cpu.cfs_period_us"))?.parse().ok()?;
            (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
        }));
    }
    let path = path_of(membership, None)?;
    tightest(levels(root, path).iter().filter_map(|dir| {
        let text = read_trimmed(&dir.join("cpu.max"))?;
        let (quota, period) = text.split_once(' ')?;
        let (quota, period) = (quota.parse::<f64>().ok()?, period.parse::<f64>().ok()?);
        (quota > 0.0 && period > 0.0).then(|| quota / period)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{create_dir_all, write};

    #[test]
    fn v2_takes_the_tightest_level() {
        let root = tempfile::tempdir().unwrap();
        let child = root.path().join("kubepods/pod1/ctr");
        create_dir_all(&child).unwrap();
        write(root.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        write(root.path().join("kubepods/memory.max"), "8589934592\n").unwrap();
        write(root.path().join("kubepods/pod1/memory.max"), "1073741824\n").unwrap();
        write(child.join("memory.max"), "max\n").unwrap();
        write(root.path().join("kubepods/cpu.max"), "max 100000\n").unwrap();
        write(child.join("cpu.max"), "150000 100000\n").unwrap();
        let limits = read_limits(root.path(), "0::/kubepods/pod1/ctr\n").unwrap();
        assert_eq!(limits.memory_limit, Some(1 << 30));
        assert_eq!(limits.cpu_limit_cores, Some(1.5));
    }

    #[test]
    fn v2_without_limits_is_none() {
        let root = tempfile::tempdir().unwrap();
        write(root.path().join("memory.max"), "max\n").unwrap();
        write(root.path().join("cpu.max"), "max 100000\n").unwrap();
        assert_eq!(read_limits(root.path(), "0::/\n"), None);
        assert_eq!(read_limits(root.path(), ""), None, "no cgroup membership at all");
    }

    #[test]
    fn v1_memory_and_cpu_hierarchies() {
        let root = tempfile::tempdir().unwrap();
        let memory = root.path().join("memory/docker/abc");
        let cpu = root.path().join("cpu,cpuacct/docker/abc");
        create_dir_all(&memory).unwrap();
        create_dir_all(&cpu).unwrap();
        write(
            root.path().join("memory/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        write(memory.join("memory.limit_in_bytes"), "536870912\n").unwrap();
        write(cpu.join("cpu.cfs_quota_us"), "200000\n").unwrap();
        write(cpu.join("cpu.cfs_period_us"), "100000\n").unwrap();
        write(root.path().join("cpu,cpuacct/cpu.cfs_quota_us"), "-1\n").unwrap();
        write(root.path().join("cpu,cpuacct/cpu.cfs_period_us"), "100000\n").unwrap();
        let membership = "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n";
        let limits = read_limits(root.path(), membership).unwrap();
        assert_eq!(limits.memory_limit, Some(512 << 20));
        assert_eq!(limits.cpu_limit_cores, Some(2.0));

        // The v1 "no limit" value at every level: nothing to report.
        write(memory.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        write(cpu.join("cpu.cfs_quota_us"), "-1\n").unwrap();
        assert_eq!(read_limits(root.path(), membership), None);
    }

    #[test]
    fn paths_never_leave_the_cgroup_root() {
        let levels = levels(Path::new("/sys/fs/cgroup"), "/../a/./b");
        assert_eq!(
            levels,
            [
                PathBuf::from("/sys/fs/cgroup/a/b"),
                PathBuf::from("/sys/fs/cgroup/a"),
                PathBuf::from("/sys/fs/cgroup")
            ]
        );
    }
}
