//! [`Simd`]: which compiled copy of a hot loop runs on this CPU. The streaming networks
//! (`neural::WaveNet`, `nam`) compile their inner loops three times — portable, AVX2 and
//! AVX-512, each with fused multiply-adds — with the same arithmetic in each, and pick the
//! widest the CPU has once, at load.

/// A compiled copy of a hot loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    /// The widest copy this CPU runs: AVX-512 (with FMA), else AVX2 (with FMA), else the
    /// portable loop.
    pub(crate) fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::arch::is_x86_feature_detected!("fma") {
                return Simd::Portable;
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }
}
