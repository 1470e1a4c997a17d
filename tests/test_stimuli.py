"""harness.stimuli: each generator's defining property, determinism, and the written set."""

import json
import math
from hashlib import sha256

import numpy as np
import pytest
from scipy import fft as sfft
from scipy import signal as sps

from harness import stimuli as S
from harness.audio import read_wav
from harness.cli import main
from harness.errors import InputError

FS = 48000


# -- the record -------------------------------------------------------------------------


def test_stimulus_is_read_only_and_validated():
    stim = S.Stimulus("x", np.zeros(10), 48000, {"a": (0, 5)}, {"kind": "test"})
    assert stim.signal.dtype == np.float64 and stim.sample_rate == 48000.0
    with pytest.raises(ValueError):
        stim.signal[0] = 1.0
    assert stim.segment("a").size == 5 and stim.duration_s == pytest.approx(10 / 48000)
    with pytest.raises(InputError, match="outside"):
        S.Stimulus("x", np.zeros(10), 48000, {"a": (5, 11)})
    with pytest.raises(InputError, match="empty or outside"):
        S.Stimulus("x", np.zeros(10), 48000, {"a": (5, 5)})
    with pytest.raises(InputError, match="index 3"):
        S.Stimulus("x", np.array([0, 0, 0, np.nan]), 48000)
    with pytest.raises(InputError, match="sample rate"):
        S.Stimulus("x", np.zeros(3), -1)
    with pytest.raises(InputError, match="no segment"):
        stim.segment("b")


GENERATORS = [
    lambda: S.impulse(FS, 0.1),
    lambda: S.step(FS, 0.1, position=10),
    lambda: S.sine(FS, 997.0, -6.0, 0.1),
    lambda: S.exp_sweep(FS, duration_s=0.5, tail_s=0.1),
    lambda: S.multisine(FS, 4096, phases="random", seed=3),
    lambda: S.multisine(FS, 4096, phases="low-crest", spacing="linear"),
    lambda: S.level_stepped_sine(FS, step_s=0.2, settle_s=0.05),
    lambda: S.two_tone(FS, "din"),
    lambda: S.plucks(FS, notes=(40, 52), note_s=0.3, seed=5),
    lambda: S.bursts(FS, n_bursts=1, burst_s=0.2, probe_s=0.2),
    lambda: S.di_phrase(FS, seed=2, duration_s=2.0),
    lambda: S.knob_sweep(FS, 0.5, shape="random", seed=4),
]


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_are_deterministic_and_well_formed(make):
    a, b = make(), make()
    assert np.array_equal(a.signal, b.signal) and a.segments == b.segments and a.meta == b.meta
    assert a.signal.ndim == 1 and np.all(np.isfinite(a.signal))
    assert a.segments, "every stimulus names at least one segment"
    json.dumps(a.meta)  # meta holds plain JSON types only
    # Levels are dBFS peak <= 0 (knob curves are positions in [0, 1]).
    assert np.max(np.abs(a.signal)) <= 1.0 + 1e-12


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: S.multisine(FS, 4096, phases="random", seed=seed),
        lambda seed: S.plucks(FS, notes=(40,), note_s=0.2, seed=seed),
        lambda seed: S.di_phrase(FS, seed=seed, duration_s=1.0),
        lambda seed: S.knob_sweep(FS, 0.5, shape="random", seed=seed),
    ],
)
def test_seed_changes_the_signal(make):
    assert not np.array_equal(make(1).signal, make(2).signal)


# -- impulse, step, sine ----------------------------------------------------------------


def test_impulse_and_step():
    imp = S.impulse(FS, 0.01, level_dbfs=-6.0, position=7)
    assert np.flatnonzero(imp.signal).tolist() == [7]
    assert imp.signal[7] == pytest.approx(10 ** (-6 / 20), rel=1e-15)
    st = S.step(FS, 0.01, level_dbfs=-20.0, position=100)
    assert np.all(st.signal[:100] == 0) and np.all(st.signal[100:] == pytest.approx(0.1))
    assert st.segments == {"step": (100, 480), "pre": (0, 100)}
    with pytest.raises(InputError, match="position"):
        S.impulse(FS, 0.01, position=480)


def test_sine_frequency_and_level():
    s = S.sine(FS, 1000.0, -3.0, 1.0)
    spectrum = np.abs(np.fft.rfft(s.signal))
    assert int(np.argmax(spectrum)) == 1000  # 1 Hz bins over 1 s
    assert np.max(np.abs(s.signal)) == pytest.approx(10 ** (-3 / 20), rel=1e-12)


# -- synchronized sweep -----------------------------------------------------------------


def test_sweep_is_synchronized():
    st = S.exp_sweep(FS, 20.0, 20000.0, duration_s=3.0)
    L = st.meta["L"]
    # Novak 2015: f1·L must be an integer so that sin(n·φ(t)) = sin(φ(t + L·ln n)).
    assert st.meta["f_start_hz"] * L == pytest.approx(round(st.meta["f_start_hz"] * L), abs=1e-9)
    t = np.linspace(0.0, 1.0, 1001)

    def phase(tt):
        return 2 * np.pi * 20.0 * L * np.expm1(tt / L)

    for n in (2, 3, 5):
        np.testing.assert_allclose(
            np.sin(n * phase(t)), np.sin(phase(t + L * math.log(n))), atol=1e-9
        )
    assert st.meta["sweep_duration_s"] == pytest.approx(L * math.log(1000.0), abs=1 / FS)


@pytest.mark.parametrize("f_end", [4000.0, 20000.0])
def test_harmonic_impulse_responses_land_L_ln_n_early(f_end):
    st = S.exp_sweep(FS, 20.0, f_end, duration_s=2.0, tail_s=0.5)
    x = st.signal
    amplitude = 10 ** (-6 / 20)
    g = S.inverse_filter(st)

    def envelope_peak(y, around):
        # Peak of the analytic envelope (the harmonic IR's phase may be 90 deg off),
        # refined by a parabola through the three highest samples.
        env = np.abs(sps.hilbert(sps.fftconvolve(y, g)))
        lo = int(around) - 500
        w = env[lo : lo + 1000]
        i = int(np.argmax(w))
        assert 0 < i < w.size - 1, "peak at the edge of the search window"
        a, b, c = w[i - 1 : i + 2]
        return lo + i + 0.5 * (a - c) / (a - 2 * b + c)

    linear = envelope_peak(x, x.size)
    assert abs(linear - x.size) < 2.0  # documented: min-phase low edge delays the peak
    spacing = st.meta["L"] * FS
    for n in (2, 3, 5):
        # A·T_n(x/A) is a pure n-th harmonic of the sweep (Chebyshev: T_n(cos θ) = cos nθ),
        # minus its value at 0 so the silent tail stays silent.
        coefficients = np.zeros(n + 1)
        coefficients[n] = 1.0
        y = amplitude * (
            np.polynomial.chebyshev.chebval(x / amplitude, coefficients)
            - np.polynomial.chebyshev.chebval(0.0, coefficients)
        )
        found = envelope_peak(y, linear - spacing * math.log(n))
        # Measured within 0.05 samples (aliased harmonics included at f_end = 20 kHz).
        assert found - linear == pytest.approx(-spacing * math.log(n), abs=0.1)


def test_inverse_filter_gives_flat_band_limited_impulse():
    st = S.exp_sweep(FS, 20.0, 20000.0, duration_s=2.0, tail_s=0.2)
    h = sps.fftconvolve(st.signal, S.inverse_filter(st))
    n = 1 << 16
    start = st.signal.size - 4096
    H = np.abs(sfft.rfft(h[start : start + n], n))
    f = sfft.rfftfreq(n, 1 / FS)
    band = (f > 40.0) & (f < 16000.0)
    # Regularization bias is -80 dB; truncating the IR to 1.4 s leaves < 0.01 dB ripple.
    assert np.max(np.abs(20 * np.log10(H[band]))) < 0.01


def test_sweep_rejects_bad_band():
    with pytest.raises(InputError, match="Nyquist"):
        S.exp_sweep(FS, 20.0, 30000.0)
    with pytest.raises(InputError, match="above f_start"):
        S.exp_sweep(FS, 1000.0, 100.0)
    with pytest.raises(InputError, match="not an exp_sweep"):
        S.inverse_filter(S.sine())


# -- multisine --------------------------------------------------------------------------


def test_multisine_tones_on_exact_bins_with_equal_amplitude():
    m = S.multisine(FS, 8192, 20.0, 20000.0, 40, phases="random", seed=1, periods=3)
    period = m.signal[:8192]
    np.testing.assert_array_equal(period, m.signal[8192:16384])
    mags = np.abs(np.fft.rfft(period))
    bins = np.array(m.meta["bins"])
    off = np.ones(mags.size, dtype=bool)
    off[bins] = False
    # Off-bin content is float rounding only (~1e-16 of a tone).
    assert mags[off].max() < 1e-12 * mags[bins].min()
    np.testing.assert_allclose(mags[bins], mags[bins][0], rtol=1e-10)
    assert np.max(np.abs(period)) == pytest.approx(10 ** (-6 / 20), rel=1e-12)
    assert len(set(bins.tolist())) == 40
    np.testing.assert_allclose(m.meta["frequencies_hz"], bins * FS / 8192)


def test_low_crest_multisine_has_lower_crest_factor():
    kwargs = dict(
        sample_rate=FS, n_samples=8192, f_lo=100.0, f_hi=10000.0, n_tones=64, spacing="linear"
    )
    crest = {
        p: S.multisine(phases=p, **kwargs).meta["crest_factor_db"]
        for p in ("random", "schroeder", "low-crest")
    }
    assert crest["low-crest"] < crest["schroeder"]
    # Measured: ~6.3 dB low-crest vs ~10 dB random for 64 linear tones.
    assert crest["low-crest"] < crest["random"] - 2.0


def test_multisine_rejects_too_many_tones():
    with pytest.raises(InputError, match="distinct FFT bins"):
        S.multisine(FS, 256, 20.0, 200.0, 50)
    with pytest.raises(InputError, match="phases"):
        S.multisine(phases="zero")


# -- level-stepped sine -----------------------------------------------------------------


def test_level_stepped_sine_segments_hold_their_level():
    st = S.level_stepped_sine(FS, 1000.0, step_s=0.2, settle_s=0.05)
    assert st.meta["levels_dbfs"] == [float(v) for v in range(-39, 1, 3)]
    assert list(st.segments) == [f"level_{v}dBFS" for v in range(-39, 1, 3)]
    for level, name in zip(st.meta["levels_dbfs"], st.segments, strict=True):
        seg = st.segment(name)
        # 1 kHz at 48 kHz: 48 samples per period, so the sampled peak is the true peak.
        assert np.max(np.abs(seg)) == pytest.approx(10 ** (level / 20), rel=1e-12)
    assert st.signal[-1] == 0.0  # faded out


# -- two tones --------------------------------------------------------------------------


@pytest.mark.parametrize("standard", sorted(S.TWO_TONE_STANDARDS))
def test_two_tone_amplitudes_and_peak(standard):
    st = S.two_tone(FS, standard, level_dbfs=-6.0, duration_s=1.0, fade_s=0.0, settle_s=0.0)
    f1, f2, ratio, _ = S.TWO_TONE_STANDARDS[standard]
    spectrum = np.abs(np.fft.rfft(st.signal)) * 2 / FS  # 1 Hz bins, exact amplitudes
    a1, a2 = spectrum[int(f1)], spectrum[int(f2)]
    assert a1 / a2 == pytest.approx(ratio, rel=1e-9)
    assert a1 + a2 == pytest.approx(10 ** (-6 / 20), rel=1e-9)
    assert np.max(np.abs(st.signal)) == pytest.approx(a1 + a2, rel=1e-9)


def test_ccif_needs_a_high_enough_rate():
    with pytest.raises(InputError, match="Nyquist"):
        S.two_tone(32000, "ccif")
    with pytest.raises(InputError, match="standard"):
        S.two_tone(FS, "itu")


# -- plucks and DI phrases --------------------------------------------------------------


def _pitch_hz(x: np.ndarray, near: float) -> float:
    n = 1 << 22
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    f = np.fft.rfftfreq(n, 1 / FS)
    band = (f > 0.97 * near) & (f < 1.03 * near)
    i = int(np.argmax(np.where(band, mag, 0)))
    a, b, c = np.log(mag[i - 1 : i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * FS / n


def test_plucks_are_in_tune_one_segment_per_note():
    notes = (40, 52, 64, 76)
    st = S.plucks(FS, notes=notes, note_s=1.0)
    assert list(st.segments) == [f"note_{k}" for k in range(len(notes))]
    for k, midi in enumerate(notes):
        f0 = 440 * 2 ** ((midi - 69) / 12)
        measured = _pitch_hz(st.segment(f"note_{k}")[4800:], f0)
        # The tuning all-pass's phase delay departs from its DC value as (ωT/2)²:
        # measured 0.005 cent at E5; 0.1 cent is far below audibility (~5 cents).
        assert abs(1200 * math.log2(measured / f0)) < 0.1
    assert np.max(np.abs(st.signal)) == pytest.approx(10 ** (-12 / 20), rel=1e-12)


def test_pluck_velocity_sets_level_and_brightness():
    st = S.plucks(FS, notes=(52, 52), velocities=(0.3, 1.0), note_s=0.5, seed=0)
    soft, hard = st.segment("note_0"), st.segment("note_1")
    assert np.max(np.abs(hard)) > 2 * np.max(np.abs(soft))

    def brightness(x):
        p = np.abs(np.fft.rfft(x[:4800])) ** 2
        f = np.fft.rfftfreq(4800, 1 / FS)
        return p[f > 2000].sum() / p.sum()

    assert brightness(hard) > 2 * brightness(soft)


def test_di_phrase_level_and_events():
    st = S.di_phrase(FS, seed=0, duration_s=8.0)
    peak = np.max(np.abs(st.signal))
    assert peak == pytest.approx(10 ** (-10 / 20), rel=1e-12)
    assert 0.1 <= peak <= 0.5  # realistic passive-pickup DI level
    kinds = {e["kind"] for e in st.meta["events"]}
    assert kinds == {"note", "chord"}
    spans = list(st.segments.values())
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


# -- bursts and knob curves -------------------------------------------------------------


def test_bursts_layout():
    st = S.bursts(FS, n_bursts=2, burst_s=0.5, probe_s=1.0)
    assert list(st.segments) == ["probe_0", "burst_0", "probe_1", "burst_1", "probe_2"]
    # Sampled peaks of a sine sit within 1 − cos(π·f/fs) of the true peak (3e-4 at 1 kHz).
    assert np.max(np.abs(st.segment("burst_0"))) == pytest.approx(10 ** (-6 / 20), rel=3e-4)
    assert np.max(np.abs(st.segment("probe_1"))) == pytest.approx(10 ** (-30 / 20), rel=3e-4)
    assert st.signal.size == 2 * FS // 2 + 3 * FS


@pytest.mark.parametrize("shape", ["ramp", "triangle", "steps", "sine", "random"])
def test_knob_sweep_stays_in_range(shape):
    st = S.knob_sweep(FS, 2.0, shape=shape, lo=0.1, hi=0.9, n_steps=5)
    assert st.signal.min() >= 0.1 - 1e-12 and st.signal.max() <= 0.9 + 1e-12
    assert st.meta["kind"] == "automation"
    if shape == "steps":
        assert len(np.unique(st.signal)) == 5
    if shape == "triangle":
        assert st.signal[0] == pytest.approx(0.1) and st.signal[-1] == pytest.approx(0.1)
    with pytest.raises(InputError, match="lo and hi"):
        S.knob_sweep(FS, 1.0, lo=-0.1)


# -- the standard set on disk -----------------------------------------------------------


def test_standard_set_is_modest_and_unique():
    stims = S.standard_set(FS)
    names = [s.name for s in stims]
    assert len(names) == len(set(names))
    total = sum(s.duration_s for s in stims)
    assert 20.0 < total < 60.0
    with pytest.raises(InputError, match="44100"):
        S.standard_set(32000)


def test_write_set_files_sidecars_and_reproducible_bytes(tmp_path):
    first = S.write_set("standard", tmp_path / "a")
    second = S.write_set("standard", tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    stims = {s.name: s for s in S.standard_set(FS)}
    for wav in (p for p in first if p.suffix == ".wav"):
        sidecar = json.loads(wav.with_suffix(".json").read_text())
        assert sidecar["sha256"] == sha256(wav.read_bytes()).hexdigest()
        data, rate = read_wav(wav)
        stim = stims[sidecar["name"]]
        assert rate == FS and sidecar["n_samples"] == data.size == stim.signal.size
        assert {k: tuple(v) for k, v in sidecar["segments"].items()} == stim.segments
        # 32-bit float WAV: error below half an ulp at 1.0.
        assert np.max(np.abs(data - stim.signal)) <= 2**-24


def test_write_set_rejects_unknown_set(tmp_path):
    with pytest.raises(InputError, match="unknown set 'nope'"):
        S.write_set("nope", tmp_path)


def test_cli_stimuli_command(tmp_path, capsys):
    out = tmp_path / "stim"
    assert (
        main(["stimuli", "--set", "standard", "--output-dir", str(out), "--sample-rate", "44100"])
        == 0
    )
    printed = capsys.readouterr().out.split()
    assert printed and all(p.startswith(str(out)) for p in printed)
    assert json.loads((out / "impulse.json").read_text())["sample_rate"] == 44100
    assert main(["stimuli", "--set", "bogus", "--output-dir", str(out)]) == 2
    assert "unknown set" in capsys.readouterr().err
