//! Identifiers and latencies drawn from the one seeded generator, so output depends only on
//! (scenario, traces, seed).

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// Microseconds since the Unix epoch: the resolution of X-Ray times.
pub(crate) type Micros = i64;

pub(crate) const MS: Micros = 1_000;
pub(crate) const SEC: Micros = 1_000_000;

/// A log-normal latency: most calls near `median_ms`, a long right tail set by `sigma`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub median_ms: f64,
    pub sigma: f64,
}

pub(crate) const fn lat(median_ms: f64, sigma: f64) -> Latency {
    Latency { median_ms, sigma }
}

pub(crate) struct Random(ChaCha8Rng);

impl Random {
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Self(rng)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p.clamp(0.0, 1.0))
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    pub(crate) fn range(&mut self, low: u64, high_inclusive: u64) -> u64 {
        self.0.random_range(low..=high_inclusive)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.random_range(0..items.len())]
    }

    /// A standard normal draw (Box-Muller), without pulling in `rand_distr` for one function.
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A duration from `latency`, at least one microsecond.
    pub(crate) fn latency(&mut self, latency: Latency) -> Micros {
        let ms = latency.median_ms * (latency.sigma * self.normal()).exp();
        ((ms * 1_000.0) as Micros).max(1)
    }

    /// Uniform in `[low, high]` microseconds.
    pub(crate) fn between(&mut self, low: Micros, high: Micros) -> Micros {
        self.0.random_range(low..=high)
    }

    /// A 16-hex-digit segment or exception id.
    pub(crate) fn id16(&mut self) -> String {
        format!("{:016x}", self.0.next_u64())
    }

    /// An X-Ray trace id: version, start epoch seconds, 96 random bits.
    pub(crate) fn trace_id(&mut self, start: Micros) -> String {
        let secs = start.div_euclid(SEC);
        let high = self.0.next_u32();
        let low = self.0.next_u64();
        format!("1-{secs:08x}-{high:08x}{low:016x}")
    }

    /// A v4 UUID, the form of Lambda and most AWS request ids.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.0.next_u64();
        let b = self.0.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// `len` characters of `alphabet`, for request ids in service-specific shapes.
    pub(crate) fn token(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.0.random_range(0..alphabet.len())]))
            .collect()
    }

    pub(crate) fn hex(&mut self, len: usize) -> String {
        self.token(b"0123456789abcdef", len)
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// DynamoDB request ids: 52 upper-case base-32 characters.
pub(crate) const DYNAMODB_ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// S3 request ids: 16 upper-case hex characters.
pub(crate) const S3_ID: &[u8] = b"0123456789ABCDEF";

/// A CloudWatch Logs event id: 56 decimal digits encoding `timestamp_ms << 144 | low`, where
/// `low` identifies the stream and counts events in it (as real ids do).
pub(crate) fn log_event_id(timestamp_ms: i64, low: u128) -> String {
    // The 186-bit value as three little-endian 64-bit limbs.
    let mut limbs = [low as u64, (low >> 64) as u64, (timestamp_ms as u64) << 16];
    let mut digits = Vec::with_capacity(64);
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u128 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / 10) as u64;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// `t` as `2026-11-20T09:00:01.123Z`, the timestamp of Lambda application log lines.
pub(crate) fn iso_ms(t: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(t)
        .expect("generated times are in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_event_id_encodes_the_timestamp_in_the_high_bits() {
        // Worked example from a real subscription payload (datadog_subscription_*_coldstart).
        let low: u128 = 1_923_745_000_813_181_352_126_295_613_793_632_256;
        let id = log_event_id(1_591_284_559_098, low);
        assert_eq!(
            id,
            "35486831490800643125153606102923171443962457178576257024"
        );
    }

    #[test]
    fn iso_ms_has_millisecond_precision() {
        assert_eq!(iso_ms(1_795_165_200_123_456), "2026-11-20T09:00:00.123Z");
    }
}
