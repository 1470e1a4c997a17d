//! Per-stage telemetry for the monitor log: what a stage saw and did since the last
//! [`Processor::take_probe`](crate::Processor::take_probe).
//!
//! Probing is off by default and switched on per stage with
//! [`Processor::set_probing`](crate::Processor::set_probing); a probed stage produces
//! exactly the same output as an unprobed one (the counters only read the solver's state).
//! Counting never allocates.

/// Counters and extremes of one stage over the samples since the last take.
///
/// `samples` counts samples at the stage's own rate (an oversampled stage counts its
/// inner, high-rate samples). `supply_min_v`/`supply_max_v` are the extremes of the
/// stage's supply node (V) — NaN when the stage has no sagging supply node or no sample was
/// processed. `rail_excursions` counts samples where a monitored node left its rails (the
/// stage's module doc says which node and which rails).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub samples: u64,
    /// Input samples that were NaN and replaced by 0 V.
    pub nan_sanitized: u64,
    /// Input samples beyond ±`INPUT_LIMIT_V` (or ±∞) clamped to the limit.
    pub input_clamped: u64,
    /// Output samples that would have been subnormal in f32 and were set to 0.
    pub denormal_flushes: u64,
    /// Samples where Newton stopped at the iteration limit.
    pub newton_failures: u64,
    /// Samples a stage's solution tables missed (solved by Newton instead).
    pub table_misses: u64,
    pub supply_min_v: f64,
    pub supply_max_v: f64,
    pub rail_excursions: u64,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            samples: 0,
            nan_sanitized: 0,
            input_clamped: 0,
            denormal_flushes: 0,
            newton_failures: 0,
            table_misses: 0,
            supply_min_v: f64::NAN,
            supply_max_v: f64::NAN,
            rail_excursions: 0,
        }
    }
}

impl Probe {
    /// Records one supply-node reading (V); the NaN of a fresh probe gives way to it.
    #[inline]
    pub fn observe_supply(&mut self, volts: f64) {
        // f64::min/max return the other operand when one is NaN.
        self.supply_min_v = self.supply_min_v.min(volts);
        self.supply_max_v = self.supply_max_v.max(volts);
    }
}

/// What a circuit stage reports about its rails for one solved sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rails {
    /// Supply-node voltage (V), or NaN for a stage with a fixed (ideal) supply.
    pub supply_v: f64,
    /// True when a monitored node is outside its rails this sample.
    pub excursion: bool,
}
