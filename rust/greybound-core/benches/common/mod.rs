//! Helpers shared by the criterion benches (each bench is its own crate and includes this
//! module with `mod common;`).

/// Seeded uniform values in [−scale, scale) (splitmix64): reproducible benchmark weights.
pub fn random(n: usize, scale: f32, state: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            scale * (((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0)
        })
        .collect()
}
