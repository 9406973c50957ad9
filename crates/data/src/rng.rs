//! numpy's `default_rng(seed).permutation(n)`, bit for bit.
//!
//! `datasets.Dataset.shuffle(seed=s)` computes `np.random.default_rng(s).permutation(len(ds))`
//! and selects those rows (`arrow_dataset.py`, `Dataset.shuffle`); `train_test_split` slices the
//! same permutation. Reproducing that permutation exactly is what makes
//! `shuffle(42).select(0..500)` pick the same 500 rows as Python. The pieces, each ported from
//! numpy's source (numpy 2.x, unchanged since 1.17):
//!
//! - [`SeedSequence`] — `numpy/random/bit_generator.pyx`: the seed is split into `u32` words
//!   (lowest first), hashed into a 4-word pool (`hashmix`/`mix`), and `generate_state(4, uint64)`
//!   draws the PCG64 seed words.
//! - [`Pcg64`] — `numpy/random/src/pcg64/pcg64.h`: a 128-bit LCG with the XSL-RR output;
//!   `pcg64_set_seed(state = words[0..2], inc = words[2..4])`. `next_u32` hands out the low half
//!   of a 64-bit draw and buffers the high half (`pcg64_next32`).
//! - [`NumpyGenerator::permutation`] — `numpy/random/_generator.pyx`: `permutation(int)` is
//!   `shuffle(arange(n))`, which for a 1-D array runs `_shuffle_raw`: for `i` from `n - 1` down
//!   to 1, swap `i` with `j = random_interval(i)`. `random_interval(max)`
//!   (`src/distributions/distributions.c`) draws with a bit mask and rejects values above `max`,
//!   using 32-bit draws when `max <= u32::MAX` and 64-bit draws otherwise.
//!
//! `tests/fixtures/gen_permutations.py` records numpy's and `datasets`' outputs for several
//! seeds and lengths (up to 50 000); `tests/permutation.rs` compares against them.

/// numpy's `SeedSequence` for an integer seed (no spawn key, pool size 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSequence {
    pool: [u32; 4],
}

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut value = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    value = value.wrapping_mul(*hash_const);
    value ^ (value >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let result = MIX_MULT_L
        .wrapping_mul(x)
        .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    result ^ (result >> XSHIFT)
}

impl SeedSequence {
    /// `SeedSequence(seed)` for a non-negative integer seed.
    pub fn new(seed: u64) -> Self {
        // `_int_to_uint32_array`: u32 words, lowest first; 0 is one word.
        let mut entropy = vec![seed as u32];
        if seed >> 32 != 0 {
            entropy.push((seed >> 32) as u32);
        }
        let mut pool = [0u32; 4];
        let mut hash_const = INIT_A;
        for (i, slot) in pool.iter_mut().enumerate() {
            *slot = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for i_src in 0..4 {
            for i_dst in 0..4 {
                if i_src != i_dst {
                    pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src], &mut hash_const));
                }
            }
        }
        // At most two entropy words, so nothing is left over to mix in after the pool.
        Self { pool }
    }

    /// `generate_state(n_words, np.uint32)`.
    pub fn generate_state_u32(&self, n_words: usize) -> Vec<u32> {
        let mut hash_const = INIT_B;
        (0..n_words)
            .map(|i| {
                let mut value = self.pool[i % 4] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                value = value.wrapping_mul(hash_const);
                value ^ (value >> XSHIFT)
            })
            .collect()
    }

    /// `generate_state(n_words, np.uint64)`: pairs of u32 words, little-endian.
    pub fn generate_state_u64(&self, n_words: usize) -> Vec<u64> {
        self.generate_state_u32(2 * n_words)
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
            .collect()
    }
}

const PCG_MULTIPLIER: u128 = (2_549_297_995_355_413_924u128 << 64) | 4_865_540_595_714_422_341u128;

/// numpy's `PCG64` bit generator (XSL-RR 128/64), including its 32-bit draw buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg64 {
    state: u128,
    inc: u128,
    buffered_u32: Option<u32>,
}

impl Pcg64 {
    /// `PCG64(seed)`: seeded through [`SeedSequence`] like numpy.
    pub fn new(seed: u64) -> Self {
        let words = SeedSequence::new(seed).generate_state_u64(4);
        let initstate = (u128::from(words[0]) << 64) | u128::from(words[1]);
        let initseq = (u128::from(words[2]) << 64) | u128::from(words[3]);
        let mut rng = Self {
            state: 0,
            inc: (initseq << 1) | 1,
            buffered_u32: None,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(initstate);
        rng.step();
        rng
    }

    fn step(&mut self) {
        self.state = self
            .state
            .wrapping_mul(PCG_MULTIPLIER)
            .wrapping_add(self.inc);
    }

    /// One 64-bit draw (`random_raw`, `next_uint64`).
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let high = (self.state >> 64) as u64;
        let low = self.state as u64;
        (high ^ low).rotate_right((self.state >> 122) as u32)
    }

    /// One 32-bit draw (`next_uint32`): the low half of a 64-bit draw, the high half on the next
    /// call.
    pub fn next_u32(&mut self) -> u32 {
        if let Some(value) = self.buffered_u32.take() {
            return value;
        }
        let next = self.next_u64();
        self.buffered_u32 = Some((next >> 32) as u32);
        next as u32
    }
}

/// The subset of numpy's `Generator` that `datasets` uses: `default_rng(seed)` and
/// `permutation(n)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumpyGenerator {
    bit_generator: Pcg64,
}

impl NumpyGenerator {
    /// `numpy.random.default_rng(seed)`.
    pub fn default_rng(seed: u64) -> Self {
        Self {
            bit_generator: Pcg64::new(seed),
        }
    }

    /// `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        mask |= mask >> 32;
        if max <= u64::from(u32::MAX) {
            loop {
                let value = u64::from(self.bit_generator.next_u32()) & mask;
                if value <= max {
                    return value;
                }
            }
        } else {
            loop {
                let value = self.bit_generator.next_u64() & mask;
                if value <= max {
                    return value;
                }
            }
        }
    }

    /// Shuffles `values` in place exactly like `Generator.shuffle` on a 1-D array.
    pub fn shuffle<T>(&mut self, values: &mut [T]) {
        for i in (1..values.len()).rev() {
            // `i < len <= usize::MAX`, so the draw (<= i) fits back into usize.
            let j = self.random_interval(i as u64) as usize;
            values.swap(i, j);
        }
    }

    /// `Generator.permutation(n)`: `shuffle(arange(n))`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut values: Vec<usize> = (0..n).collect();
        self.shuffle(&mut values);
        values
    }
}

/// `numpy.random.default_rng(seed).permutation(n)` — the row order of
/// `datasets.Dataset.shuffle(seed=seed)` on a dataset of `n` rows.
///
/// ```
/// // Python: numpy.random.default_rng(42).permutation(10)
/// assert_eq!(bertfit_data::permutation(10, 42), [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]);
/// ```
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    NumpyGenerator::default_rng(seed).permutation(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_rejection_stays_in_range() {
        let mut rng = NumpyGenerator::default_rng(3);
        for max in [
            1u64,
            2,
            3,
            7,
            8,
            1000,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            for _ in 0..100 {
                assert!(rng.random_interval(max) <= max);
            }
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = permutation(1000, 9);
        p.sort_unstable();
        assert!(p.iter().enumerate().all(|(i, &v)| i == v));
        assert!(permutation(0, 1).is_empty());
        assert_eq!(permutation(1, 1), [0]);
    }
}
