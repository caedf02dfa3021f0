//! Seeded random streams.
//!
//! Every patient-level draw comes from ChaCha8 (`rand_chacha`): a fixed, documented algorithm,
//! so a seed names the same cohort on every platform and with every `rand` release. Each purpose
//! gets its own ChaCha stream (`set_stream`), so changing one parameter (the gene count, the
//! image size) does not reshuffle the draws of another modality.
//!
//! Voxel noise is the exception: it comes from SplitMix64 seeded by a ChaCha draw. ChaCha8
//! compiled without optimisation (the debug builds tests run in) costs about 0.6 µs a draw and
//! a default cohort needs some fifty million voxel draws; SplitMix64 is a few integer operations,
//! equally fixed and portable.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Stream numbers. Per-patient streams add the patient's index within its site, so adding AMC
/// patients leaves every earlier patient unchanged.
pub(crate) mod stream {
    // 1 was the availability stream; availability now follows enrolment order (cohort.rs).
    /// Per-gene model parameters (baseline level, spread, loadings, missingness).
    pub const GENE_MODELS: u64 = 2;
    /// Latent factors, clinical record and label noise of R01 patient k: `R01_PATIENT + k`.
    pub const R01_PATIENT: u64 = 1 << 40;
    /// Clinical and latent draws of AMC patient k.
    pub const AMC_PATIENT: u64 = 2 << 40;
    /// Expression values of R01 patient k.
    pub const EXPRESSION: u64 = 3 << 40;
    /// The CT volume of the patient at cohort position k.
    pub const VOLUME: u64 = 4 << 40;
}

/// A ChaCha8 stream with the few distributions the generator needs, implemented here (not
/// taken from `rand_distr`) so their algorithms cannot change under us.
pub(crate) struct Draws {
    rng: ChaCha8Rng,
}

impl Draws {
    pub fn new(seed: u64, stream: u64) -> Draws {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draws { rng }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// Standard normal by Box-Muller (one value per call: simpler to keep deterministic than a
    /// cached second value).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln(0) is impossible
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.uniform() < probability
    }

    /// Uniform integer in [0, n); `n` must be positive. Multiply-shift: the bias is below 2^-40
    /// for the sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.rng.next_u64()) * n as u128) >> 64) as usize
    }

    /// An index drawn with the given (not necessarily normalised) weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.uniform() * total;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                return index;
            }
            target -= weight;
        }
        weights.len().saturating_sub(1)
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014) for voxel noise; see the module doc for why.
pub(crate) struct VoxelNoise {
    state: u64,
}

impl VoxelNoise {
    pub fn new(seed: u64) -> VoxelNoise {
        VoxelNoise { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall, n = 4),
    /// centred and scaled to unit variance. One integer draw, no transcendental functions; CT
    /// noise is not exactly Gaussian either.
    pub fn normal(&mut self) -> f64 {
        let bits = self.next_u64();
        let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
        // Each lane is uniform on [0, 1) after dividing by 65536: mean 2 and variance 4/12 for four.
        (sum as f64 / 65536.0 - 2.0) * 3.0f64.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Draws::new(42, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut one = Draws::new(42, 1);
        let mut two = Draws::new(42, 2);
        assert_ne!(one.next_u64(), two.next_u64());
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut draws = Draws::new(7, 0);
        let n = 20_000;
        let values: Vec<f64> = (0..n).map(|_| draws.normal()).collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");

        let mut noise = VoxelNoise::new(7);
        let values: Vec<f64> = (0..n).map(|_| noise.normal()).collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");

        let mut counts = [0usize; 3];
        for _ in 0..9_000 {
            counts[draws.weighted(&[1.0, 2.0, 6.0])] += 1;
        }
        assert!((counts[2] as f64 / 9_000.0 - 2.0 / 3.0).abs() < 0.03, "{counts:?}");
    }
}
