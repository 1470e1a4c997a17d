//! Scoped flush-to-zero / denormals-are-zero guard and scalar flush helpers.
//!
//! Subnormal floats make recursive filters crawl (100× slower arithmetic on x86) once a
//! signal decays into silence. [`DenormalGuard`] sets FTZ+DAZ (x86_64 MXCSR) or FZ
//! (aarch64 FPCR) for its scope and restores the caller's mode on drop, so the host thread
//! is left as it was. It uses inline assembly, as current Rust requires (the old
//! `_mm_setcsr` intrinsics are deprecated). On other targets it is a no-op and the stages'
//! explicit [`flush`] of state and output keeps them subnormal-free.

/// Restores the floating-point control register on drop. Not `Send`: it belongs to the
/// thread whose register it changed.
pub struct DenormalGuard {
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    saved: u64,
    _not_send: std::marker::PhantomData<*const ()>,
}

#[cfg(target_arch = "x86_64")]
const MXCSR_FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
#[cfg(target_arch = "aarch64")]
const FPCR_FZ: u64 = 1 << 24;

impl DenormalGuard {
    /// Enables flush-to-zero (and denormals-are-zero where the CPU has it) until dropped.
    #[inline]
    pub fn new() -> Self {
        let saved = read_control();
        write_control(enable_bits(saved));
        DenormalGuard {
            saved,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        write_control(self.saved);
    }
}

/// True when the current thread flushes subnormal results to zero.
pub fn flush_to_zero_enabled() -> bool {
    let c = read_control();
    enable_bits(c) == c && cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_control() -> u64 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit MXCSR register into the pointed-to local.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
    }
    csr as u64
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn write_control(value: u64) {
    let csr = value as u32;
    // SAFETY: ldmxcsr loads MXCSR from a valid value previously read or derived from it.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags));
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn enable_bits(c: u64) -> u64 {
    c | MXCSR_FTZ_DAZ as u64
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn read_control() -> u64 {
    let fpcr: u64;
    // SAFETY: reading FPCR has no side effects.
    unsafe {
        std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
    }
    fpcr
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn write_control(value: u64) {
    // SAFETY: writes back a value read from FPCR with only the FZ bit changed.
    unsafe {
        std::arch::asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack, preserves_flags));
    }
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn enable_bits(c: u64) -> u64 {
    c | FPCR_FZ
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read_control() -> u64 {
    0
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn write_control(_value: u64) {}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn enable_bits(c: u64) -> u64 {
    c
}

/// Smallest magnitude kept in filter state (V). Anything below is far under any audio noise
/// floor (−600 dBFS) and is set to zero so that state never becomes subnormal.
pub const STATE_FLOOR: f64 = 1e-30;

/// Returns 0 for |x| below [`STATE_FLOOR`] (and for subnormals), x otherwise.
#[inline(always)]
pub fn flush(x: f64) -> f64 {
    if x.abs() < STATE_FLOOR {
        0.0
    } else {
        x
    }
}

/// Converts to f32 and zeroes results that would be subnormal in f32.
#[inline(always)]
pub fn to_f32_flushed(x: f64) -> f32 {
    let y = x as f32;
    if y.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        y
    }
}
