//! A mergeable latency sketch (log-bucketed, as DDSketch): percentiles within about 2%
//! of the true value, bucket counts that add up when rollups are merged, and a compact
//! binary form (a bucket with one sample takes three bytes).

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

fn bucket_of(us: u64) -> u32 {
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

    /// Compact bytes: pairs of varints (bucket delta, count).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buckets.len() * 3);
        let mut last = 0;
        for (b, n) in &self.buckets {
            put_varint(&mut out, u64::from(b - last));
            put_varint(&mut out, *n);
            last = *b;
        }
        out
    }

    /// Reads [`LatencySketch::encode`]'s bytes; `None` if they are malformed.
    pub fn decode(mut bytes: &[u8]) -> Option<LatencySketch> {
        let mut s = LatencySketch::default();
        let mut bucket = 0u64;
        while !bytes.is_empty() {
            bucket += get_varint(&mut bytes)?;
            let n = get_varint(&mut bytes)?;
            *s.buckets.entry(u32::try_from(bucket).ok()?).or_insert(0) += n;
            s.count += n;
        }
        Some(s)
    }
}

/// Adds up many encoded sketches quickly (a dense array instead of a map), for queries
/// that merge hundreds of rollups per check.
#[derive(Default)]
pub(crate) struct SketchSum {
    counts: Vec<u64>,
    total: u64,
}

impl SketchSum {
    /// Adds one encoded sketch; malformed bytes are skipped.
    pub(crate) fn add_encoded(&mut self, mut bytes: &[u8]) {
        let mut bucket = 0usize;
        while !bytes.is_empty() {
            let (Some(delta), Some(n)) = (get_varint(&mut bytes), get_varint(&mut bytes)) else {
                return;
            };
            bucket += delta as usize;
            if bucket >= self.counts.len() {
                self.counts.resize(bucket + 1, 0);
            }
            self.counts[bucket] += n;
            self.total += n;
        }
    }

    /// The `q`-quantile in microseconds; `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total - 1) as f64 * q.clamp(0.0, 1.0)).round() as u64;
        let mut seen = 0;
        for (b, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen > rank {
                return Some(value_of(b as u32));
            }
        }
        None
    }
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
}
