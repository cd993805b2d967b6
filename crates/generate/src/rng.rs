//! Deterministic randomness.
//!
//! Every random choice derives from the configured seed through [`mix64`] (the SplitMix64
//! finaliser) into independent ChaCha8 streams, one per purpose and per hour of data, so the output
//! does not depend on the number of threads or the order in which they run. Only `next_u64` of the
//! ChaCha stream is used, and integer ranges are reduced with a fixed multiply-shift, so the bytes
//! depend on nothing but the `rand_chacha` block function (a fixed, specified algorithm).

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The SplitMix64 finaliser: a bijective 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit value derived from the seed, a purpose tag and two indices.
pub(crate) fn derive(seed: u64, domain: u64, a: u64, b: u64) -> u64 {
    let x = mix64(seed ^ mix64(domain.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    let x = mix64(x ^ a.wrapping_mul(0xd6e8_feb8_6659_fd93));
    mix64(x ^ b.wrapping_mul(0xa076_1d64_78bd_642f).wrapping_add(1))
}

/// Purpose tags for [`derive`] and [`stream`].
pub(crate) mod domain {
    pub const WORLD: u64 = 1;
    pub const IPS: u64 = 2;
    pub const HOUR: u64 = 3;
    pub const FILE: u64 = 4;
    pub const PLAN: u64 = 5;
    pub const HEARTBEAT: u64 = 6;
    pub const SESSION: u64 = 7;
}

/// An independent ChaCha8 stream for a purpose and an index.
pub(crate) fn stream(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&derive(seed, domain, index, i as u64).to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// A small SplitMix64 generator for the per-event details (ids, parameters), seeded from a
/// ChaCha draw: cheap to create for every record.
#[derive(Clone)]
pub(crate) struct Mix(pub u64);

impl Mix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
}

/// Random draws used throughout; implemented by both generators.
pub(crate) trait Draw {
    /// 64 uniformly random bits.
    fn bits(&mut self) -> u64;

    /// Uniform in `0..n` (0 when `n == 0`), by Lemire's multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.bits()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `ppm / 1_000_000`.
    fn chance(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < u64::from(ppm)
    }

    /// A uniformly chosen element.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen by cumulative integer weights (`cum` strictly increasing, last = total).
    fn weighted(&mut self, cum: &[u64]) -> usize {
        let total = *cum.last().unwrap_or(&0);
        let x = self.below(total);
        cum.partition_point(|&c| c <= x)
    }
}

impl Draw for ChaCha8Rng {
    fn bits(&mut self) -> u64 {
        self.next_u64()
    }
}

impl Draw for Mix {
    fn bits(&mut self) -> u64 {
        self.next()
    }
}

/// Upper-case letters and digits 2-7: the alphabet of AWS access key ids.
pub(crate) const KEY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Letters and digits, for file-name suffixes and S3 request ids.
pub(crate) const ALNUM: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Upper-case letters and digits.
pub(crate) const UPPER_ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Base64 characters.
pub(crate) const BASE64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` characters from `alphabet`.
pub(crate) fn chars(r: &mut impl Draw, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect()
}

/// Appends `n` characters from `alphabet` to `out`, using 64-bit draws efficiently.
pub(crate) fn push_chars(out: &mut Vec<u8>, r: &mut Mix, alphabet: &[u8], n: usize) {
    let len = alphabet.len() as u64;
    let mut left = n;
    while left > 0 {
        let mut x = r.next();
        // Six characters per draw keeps the bias negligible for alphabets up to 64.
        for _ in 0..left.min(6) {
            out.push(alphabet[(x % len) as usize]);
            x /= len;
        }
        left -= left.min(6);
    }
}

/// Appends `n` lower-case hex digits.
pub(crate) fn push_hex(out: &mut Vec<u8>, r: &mut Mix, n: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut left = n;
    while left > 0 {
        let mut x = r.next();
        for _ in 0..left.min(16) {
            out.push(HEX[(x & 15) as usize]);
            x >>= 4;
        }
        left -= left.min(16);
    }
}

/// `n` lower-case hex digits as a string.
pub(crate) fn hex_string(r: &mut Mix, n: usize) -> String {
    let mut v = Vec::with_capacity(n);
    push_hex(&mut v, r, n);
    String::from_utf8(v).expect("ASCII")
}

/// Appends a UUID-formatted (version 4 layout) identifier.
pub(crate) fn push_uuid(out: &mut Vec<u8>, r: &mut Mix) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = r.next();
    let b = r.next();
    let nib = |i: usize| -> u8 {
        let v = if i < 16 {
            a >> (i * 4)
        } else {
            b >> ((i - 16) * 4)
        };
        HEX[(v & 15) as usize]
    };
    let mut i = 0;
    for (g, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        if g > 0 {
            out.push(b'-');
        }
        for k in 0..len {
            let c = match (g, k) {
                (2, 0) => b'4',
                (3, 0) => b"89ab"[(b >> 60) as usize & 3],
                _ => nib(i),
            };
            out.push(c);
            i += 1;
        }
    }
}

/// A UUID-formatted identifier as a string.
pub(crate) fn uuid_string(r: &mut Mix) -> String {
    let mut v = Vec::with_capacity(36);
    push_uuid(&mut v, r);
    String::from_utf8(v).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| stream(7, domain::HOUR, 3).bits()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            stream(7, domain::HOUR, 3).bits(),
            stream(7, domain::HOUR, 4).bits()
        );
        assert_ne!(
            stream(7, domain::HOUR, 3).bits(),
            stream(8, domain::HOUR, 3).bits()
        );
    }

    #[test]
    fn uuid_layout() {
        let u = uuid_string(&mut Mix(42));
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
    }

    #[test]
    fn weighted_choice_respects_zero_weights() {
        let cum = [0u64, 5, 5, 10];
        let mut r = Mix(1);
        for _ in 0..1000 {
            let i = r.weighted(&cum);
            assert!(i == 1 || i == 3, "{i}");
        }
    }
}
