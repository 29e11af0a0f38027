//! A mergeable latency sketch (log-bucketed, as DDSketch): percentiles within about 2%
//! of the true value, bucket counts that add up when rollups are merged, and a compact
//! binary form.
//!
//! Two binary forms, told apart by their first bytes:
//! - sparse: pairs of varints (bucket delta, count), a count never 0 (a bucket with one
//!   sample takes three bytes); the form of files written before schema version 4;
//! - dense: `0, 0`, the width of a count in bytes (1, 2, 4 or 8), a varint first bucket,
//!   then one little-endian count per bucket from there. Summing dense sketches is an
//!   addition of byte arrays, without a map, which is what a query over hundreds of
//!   rollups per check does. (A sparse form never starts with `0, 0`: that would be a
//!   bucket with count 0.)
//!
//! [`LatencySketch::encode`] writes whichever of the two is not much bigger, preferring
//! dense; every reader takes both.

use std::collections::BTreeMap;

/// Bucket growth factor: each bucket is 4% wider than the last, so a value is known
/// within ±2% (`(γ-1)/(γ+1)`).
const GAMMA: f64 = 1.04;

/// Latencies in microseconds, bucketed by `ceil(log_γ(µs))`.
///
/// ```
/// use monitor_core::store::LatencySketch;
/// let mut a = LatencySketch::default();
/// for us in 1..=1000 { a.add(us); }
/// let mut b = LatencySketch::decode(&a.encode()).unwrap();
/// b.merge(&a);
/// let p50 = b.quantile(0.5).unwrap() as f64;
/// assert!((p50 - 500.0).abs() / 500.0 < 0.03, "{p50}");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencySketch {
    /// Bucket index -> count; index 0 holds zeros.
    buckets: BTreeMap<u32, u64>,
    count: u64,
}

/// The bucket of a latency in microseconds.
pub(crate) fn bucket_of(us: u64) -> u32 {
    if us == 0 {
        0
    } else {
        ((us as f64).ln() / GAMMA.ln()).ceil().max(0.0) as u32 + 1
    }
}

/// A representative value of a bucket: the midpoint of its range in log space.
fn value_of(bucket: u32) -> u64 {
    if bucket == 0 {
        return 0;
    }
    let upper = GAMMA.powi(bucket as i32 - 1);
    let lower = upper / GAMMA;
    (2.0 * lower * upper / (lower + upper)).round() as u64
}

impl LatencySketch {
    /// Adds one latency, in microseconds.
    pub fn add(&mut self, us: u64) {
        *self.buckets.entry(bucket_of(us)).or_insert(0) += 1;
        self.count += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &LatencySketch) {
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_insert(0) += n;
        }
        self.count += other.count;
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q`-quantile (0..=1) in microseconds; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((self.count - 1) as f64 * q.clamp(0.0, 1.0)).round() as u64;
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen > rank {
                return Some(value_of(*b));
            }
        }
        self.buckets.keys().next_back().map(|b| value_of(*b))
    }

    /// Compact bytes, dense or sparse (see the module's documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut sum = SketchSum::default();
        for (b, n) in &self.buckets {
            sum.add_bucket(*b as usize, *n);
        }
        sum.encode()
    }

    /// Reads [`LatencySketch::encode`]'s bytes (either form); `None` if they are malformed.
    pub fn decode(bytes: &[u8]) -> Option<LatencySketch> {
        let mut sum = SketchSum::default();
        if !sum.try_add_encoded(bytes) {
            return None;
        }
        let mut s = LatencySketch::default();
        for (i, n) in sum.counts.iter().enumerate() {
            if *n > 0 {
                s.buckets.insert(u32::try_from(sum.first + i).ok()?, *n);
            }
        }
        s.count = sum.total;
        Some(s)
    }
}

/// Counts per bucket in a dense array (from `first`): builds rollup sketches while a
/// batch is written, and adds up many encoded sketches quickly for queries that merge
/// hundreds of rollups per check.
#[derive(Clone, Debug, Default)]
pub(crate) struct SketchSum {
    first: usize,
    counts: Vec<u64>,
    total: u64,
}

/// Buckets a sketch may span: latencies up to about 10^17 µs. Anything past it is malformed.
const MAX_BUCKETS: usize = 1024;

impl SketchSum {
    /// Makes room for buckets `lo..hi` (nonempty, `hi <= MAX_BUCKETS`).
    fn reserve(&mut self, lo: usize, hi: usize) {
        if self.counts.is_empty() {
            self.first = lo;
            self.counts.resize(hi - lo, 0);
            return;
        }
        let end = self.first + self.counts.len();
        if lo < self.first {
            let mut grown = vec![0; end.max(hi) - lo];
            grown[self.first - lo..end - lo].copy_from_slice(&self.counts);
            self.counts = grown;
            self.first = lo;
        } else if hi > end {
            self.counts.resize(hi - self.first, 0);
        }
    }

    /// Adds `n` samples to bucket `b`.
    pub(crate) fn add_bucket(&mut self, b: usize, n: u64) {
        if b >= MAX_BUCKETS || n == 0 {
            return;
        }
        self.reserve(b, b + 1);
        self.counts[b - self.first] += n;
        self.total += n;
    }

    /// Adds one latency in microseconds.
    #[cfg(test)]
    pub(crate) fn add(&mut self, us: u64) {
        self.add_bucket(bucket_of(us) as usize, 1);
    }

    /// Samples added.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Adds one encoded sketch, of either form; malformed bytes are skipped whole.
    pub(crate) fn add_encoded(&mut self, bytes: &[u8]) {
        self.try_add_encoded(bytes);
    }

    /// Adds one encoded sketch; `false` (and nothing added) if malformed.
    fn try_add_encoded(&mut self, bytes: &[u8]) -> bool {
        match bytes {
            [0, 0, width, rest @ ..] => self.try_add_dense(*width, rest),
            _ => self.try_add_sparse(bytes),
        }
    }

    fn try_add_dense(&mut self, width: u8, mut bytes: &[u8]) -> bool {
        let Some(first) = get_varint(&mut bytes) else {
            return false;
        };
        let w = width as usize;
        if !matches!(w, 1 | 2 | 4 | 8) || !bytes.len().is_multiple_of(w) {
            return false;
        }
        let n = bytes.len() / w;
        let Some(end) = (first as usize).checked_add(n).filter(|e| *e <= MAX_BUCKETS) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        let first = first as usize;
        self.reserve(first, end);
        let slots = &mut self.counts[first - self.first..end - self.first];
        let mut total = 0u64;
        match w {
            1 => {
                for (slot, c) in slots.iter_mut().zip(bytes) {
                    *slot += u64::from(*c);
                    total += u64::from(*c);
                }
            }
            2 => {
                for (slot, c) in slots.iter_mut().zip(bytes.chunks_exact(2)) {
                    let c = u64::from(u16::from_le_bytes([c[0], c[1]]));
                    *slot += c;
                    total += c;
                }
            }
            4 => {
                for (slot, c) in slots.iter_mut().zip(bytes.chunks_exact(4)) {
                    let c = u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                    *slot += c;
                    total += c;
                }
            }
            _ => {
                for (slot, c) in slots.iter_mut().zip(bytes.chunks_exact(8)) {
                    let c = u64::from_le_bytes(c.try_into().unwrap_or_default());
                    *slot += c;
                    total += c;
                }
            }
        }
        self.total += total;
        true
    }

    fn try_add_sparse(&mut self, bytes: &[u8]) -> bool {
        fn each(mut bytes: &[u8], mut f: impl FnMut(usize, u64)) -> bool {
            let mut bucket = 0usize;
            while !bytes.is_empty() {
                let (Some(delta), Some(n)) = (get_varint(&mut bytes), get_varint(&mut bytes)) else {
                    return false;
                };
                bucket = match usize::try_from(delta).ok().and_then(|d| bucket.checked_add(d)) {
                    Some(b) if b < MAX_BUCKETS => b,
                    _ => return false,
                };
                f(bucket, n);
            }
            true
        }
        // Check it all first, so malformed bytes add nothing.
        let mut sum = 0u64;
        if !each(bytes, |_, n| sum = sum.saturating_add(n)) || self.total.checked_add(sum).is_none() {
            return false;
        }
        each(bytes, |b, n| self.add_bucket(b, n))
    }

    /// Compact bytes: dense unless that is twice the sparse form or more.
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Trim empty buckets at both ends.
        let Some(lo) = self.counts.iter().position(|c| *c > 0) else {
            return Vec::new();
        };
        let hi = self.counts.iter().rposition(|c| *c > 0).map_or(lo, |i| i) + 1;
        let counts = &self.counts[lo..hi];
        let first = self.first + lo;
        let max = counts.iter().copied().max().unwrap_or(0);
        let width: usize = match max {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xffff_ffff => 4,
            _ => 8,
        };
        let dense_len = 3 + varint_len(first as u64) + counts.len() * width;
        let mut sparse_len = 0;
        let mut last = 0;
        for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            sparse_len += varint_len((first + i - last) as u64) + varint_len(*c);
            last = first + i;
        }
        if dense_len >= 2 * sparse_len {
            let mut out = Vec::with_capacity(sparse_len);
            let mut last = 0;
            for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                put_varint(&mut out, (first + i - last) as u64);
                put_varint(&mut out, *c);
                last = first + i;
            }
            return out;
        }
        let mut out = Vec::with_capacity(dense_len);
        out.extend_from_slice(&[0, 0, width as u8]);
        put_varint(&mut out, first as u64);
        for c in counts {
            out.extend_from_slice(&c.to_le_bytes()[..width]);
        }
        out
    }

    /// The `q`-quantile in microseconds; `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total - 1) as f64 * q.clamp(0.0, 1.0)).round() as u64;
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen > rank {
                return Some(value_of((self.first + i) as u32));
            }
        }
        None
    }
}

/// `merge_sketch(a, b)` of the SQLite store: the sum of two encoded sketches, encoded.
/// A malformed side counts as empty.
pub(crate) fn merge_encoded(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut sum = SketchSum::default();
    sum.add_encoded(a);
    sum.add_encoded(b);
    sum.encode()
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut s = LatencySketch::default();
        let values: Vec<u64> = (0..10_000).map(|i| 100 + (i * i) % 250_000).collect();
        for v in &values {
            s.add(*v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for q in [0.5, 0.95, 0.99] {
            let exact = sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64;
            let got = s.quantile(q).unwrap() as f64;
            assert!((got - exact).abs() / exact <= 0.021, "q{q}: {got} vs {exact}");
        }
    }

    #[test]
    fn the_dense_sum_agrees_with_merging() {
        let (mut a, mut b) = (LatencySketch::default(), LatencySketch::default());
        for us in 1..500 {
            a.add(us * 7);
            b.add(us * 13);
        }
        let mut sum = SketchSum::default();
        sum.add_encoded(&a.encode());
        sum.add_encoded(&b.encode());
        a.merge(&b);
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(sum.quantile(q), a.quantile(q));
        }
    }

    #[test]
    fn one_sample_encodes_in_a_few_bytes_and_round_trips() {
        let mut s = LatencySketch::default();
        s.add(1_234);
        let bytes = s.encode();
        assert!(bytes.len() <= 3, "{}", bytes.len());
        assert_eq!(LatencySketch::decode(&bytes).unwrap(), s);
        assert_eq!(LatencySketch::decode(&[0x80]), None);
    }

    /// The sparse varint form as files before schema version 4 hold it.
    fn old_encoding(s: &LatencySketch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0;
        for (b, n) in &s.buckets {
            put_varint(&mut out, u64::from(b - last));
            put_varint(&mut out, *n);
            last = *b;
        }
        out
    }

    #[test]
    fn many_samples_encode_densely_and_both_forms_add_up() {
        let mut s = LatencySketch::default();
        for i in 0..3_000u64 {
            s.add(5_000 + (i * 7919) % 200_000);
        }
        let dense = s.encode();
        assert_eq!(&dense[..2], &[0, 0], "dense form");
        let old = old_encoding(&s);
        assert!(dense.len() < old.len(), "{} vs {}", dense.len(), old.len());
        assert_eq!(LatencySketch::decode(&dense).unwrap(), s);
        assert_eq!(LatencySketch::decode(&old).unwrap(), s);
        // Old and new rows merge into one.
        let merged = LatencySketch::decode(&merge_encoded(&old, &dense)).unwrap();
        let mut twice = s.clone();
        twice.merge(&s);
        assert_eq!(merged, twice);
        // Wide counts (a busy day) round-trip.
        let mut sum = SketchSum::default();
        sum.add_bucket(300, 70_000);
        sum.add_bucket(301, 5);
        sum.add_bucket(2, 1);
        let mut back = SketchSum::default();
        back.add_encoded(&sum.encode());
        assert_eq!((back.total(), back.quantile(1.0)), (70_006, sum.quantile(1.0)));
        assert_eq!(back.quantile(0.0), Some(value_of(2)));
    }

    #[test]
    fn malformed_bytes_are_skipped_whole() {
        let mut sum = SketchSum::default();
        sum.add(1_000);
        for bad in [
            &[0u8, 0, 3, 1, 1][..],
            &[0, 0, 2, 5, 1],
            &[0, 0, 1, 0xff, 0xff, 0x7f, 1],
            &[0x80],
        ] {
            sum.add_encoded(bad);
            assert_eq!(sum.total(), 1, "{bad:?}");
        }
    }
}
