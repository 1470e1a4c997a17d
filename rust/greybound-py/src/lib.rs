//! PyO3 bindings of the Greybound runtime: numpy ↔ slices, errors → Python exceptions, the
//! GIL released while rendering. No DSP lives here. The module is private
//! (`harness._greybound`); `harness.runtime` is its only importer and its public face.

use std::sync::{Mutex, MutexGuard};

mod alloc_probe;
mod nam;

#[global_allocator]
static ALLOCATOR: alloc_probe::CountingAllocator = alloc_probe::CountingAllocator;

use greybound_core::dsp::{IrConvolver, Oversampled, MAX_IR_SAMPLES};
use greybound_core::neural::{artifact, NeuralCell};
use greybound_core::rig::Rig;
use greybound_core::stages::{
    build_stage, live_params, stage_specs, ParamKind, ParamValue, Params,
};
use greybound_core::{Error, Processor, Spec};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Block size used when rendering a whole array (samples).
const RENDER_BLOCK: usize = 4096;

fn to_py_err(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Locks an object's runtime state; a mutex poisoned by an earlier panic is a RuntimeError
/// naming `what`.
pub(crate) fn lock<'a, T: ?Sized>(state: &'a Mutex<T>, what: &str) -> PyResult<MutexGuard<'a, T>> {
    state.lock().map_err(|_| {
        PyRuntimeError::new_err(format!("{what} state poisoned by an earlier failure"))
    })
}

fn param_value_to_py<'py>(py: Python<'py>, v: &ParamValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        ParamValue::Number(x) => x.into_pyobject(py)?.into_any(),
        ParamValue::Text(s) => s.into_pyobject(py)?.into_any(),
    })
}

/// Stage parameters from a Python dict: numbers and names, nothing else.
fn given_params(kind: &str, params: &Bound<'_, PyDict>) -> PyResult<Vec<(String, ParamValue)>> {
    let mut given = Vec::with_capacity(params.len());
    for (key, value) in params.iter() {
        let name: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("parameter names must be str"))?;
        let v = if let Ok(s) = value.extract::<String>() {
            ParamValue::Text(s)
        } else if value.is_instance_of::<pyo3::types::PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "stage '{kind}': parameter '{name}' must be a number, not bool"
            )));
        } else if let Ok(x) = value.extract::<f64>() {
            ParamValue::Number(x)
        } else {
            return Err(PyTypeError::new_err(format!(
                "stage '{kind}': parameter '{name}' must be a number or a str, got {}",
                value.get_type().name()?
            )));
        };
        given.push((name, v));
    }
    Ok(given)
}

/// Builds a stage (oversampled when `oversample` > 1) and prepares it at `sample_rate`.
fn build_prepared(
    kind: &str,
    given: &[(String, ParamValue)],
    sample_rate: f64,
    oversample: usize,
) -> PyResult<(Box<dyn Processor>, Params)> {
    let (stage, params) = build_stage(kind, given).map_err(to_py_err)?;
    let mut stage: Box<dyn Processor> = if oversample == 1 {
        stage
    } else {
        Box::new(Oversampled::new(stage, oversample).map_err(to_py_err)?)
    };
    stage
        .prepare(&Spec {
            sample_rate,
            max_block: RENDER_BLOCK,
        })
        .map_err(to_py_err)?;
    Ok((stage, params))
}

/// The id of live parameter `name` of a stage, after checking `value` against its range.
fn live_param_id(params: &Params, name: &str, value: f64) -> PyResult<u32> {
    let kind = params.stage;
    let live = live_params(params);
    let spec = stage_specs().iter().find(|s| s.kind == kind);
    let Some((id, p)) = spec
        .and_then(|s| s.param_id(name).map(|id| (id, &s.params[id as usize])))
        .filter(|_| live.contains(&name))
    else {
        let listed = if live.is_empty() {
            "none".to_string()
        } else {
            live.join(", ")
        };
        return Err(PyValueError::new_err(format!(
            "stage '{kind}': parameter '{name}' cannot change while running \
             (live parameters: {listed})"
        )));
    };
    if let ParamKind::Number { min, max, unit, .. } = p.kind {
        if !(value.is_finite() && (min..=max).contains(&value)) {
            return Err(PyValueError::new_err(format!(
                "stage '{kind}': {name} = {value} must be within [{min}, {max}] {unit}"
            )));
        }
    }
    Ok(id)
}

/// A runtime stage built by kind name, prepared at a sample rate.
#[pyclass(module = "harness._greybound")]
struct NativeStage {
    stage: Mutex<Box<dyn Processor>>,
    params: Params,
    sample_rate: f64,
    oversample: usize,
}

impl NativeStage {
    fn locked(&self) -> PyResult<MutexGuard<'_, Box<dyn Processor>>> {
        lock(&self.stage, "stage")
    }
}

#[pymethods]
impl NativeStage {
    #[new]
    #[pyo3(signature = (kind, sample_rate, params, oversample=1))]
    fn new(
        kind: &str,
        sample_rate: f64,
        params: &Bound<'_, PyDict>,
        oversample: usize,
    ) -> PyResult<Self> {
        let given = given_params(kind, params)?;
        let (stage, params) = build_prepared(kind, &given, sample_rate, oversample)?;
        Ok(NativeStage {
            stage: Mutex::new(stage),
            params,
            sample_rate,
            oversample,
        })
    }

    /// Processes a 1-D float32 array of volts; returns a new float32 array. Rejects NaN/Inf.
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let what = format!("stage '{}'", self.params.stage);
        render(py, &mut **self.locked()?, &what, x, RENDER_BLOCK)
    }

    /// Heap allocations made while processing `x` (the runtime rule says: zero).
    fn allocations_during_process(&self, x: PyReadonlyArray1<'_, f32>) -> PyResult<u64> {
        Ok(allocations_in_process(self.locked()?.as_mut(), x))
    }

    /// Returns the stage to its DC rest state.
    fn reset(&self) -> PyResult<()> {
        self.locked()?.reset();
        Ok(())
    }

    /// Sets a live parameter by name while running (one of `live_params`: a knob, or
    /// `smoothing_ms`): a knob ramps to `value` inside `process` over the stage's
    /// smoothing time. Rejects other names and values outside the parameter's range.
    fn set_param(&self, name: &str, value: f64) -> PyResult<()> {
        let id = live_param_id(&self.params, name, value)?;
        self.locked()?.set_param(id, value as f32);
        Ok(())
    }

    /// Names of the parameters `set_param` accepts.
    #[getter]
    fn live_params(&self) -> Vec<&'static str> {
        live_params(&self.params).to_vec()
    }

    #[getter]
    fn latency_samples(&self) -> PyResult<usize> {
        Ok(self.locked()?.latency_samples())
    }

    #[getter]
    fn tail_samples(&self) -> PyResult<usize> {
        Ok(self.locked()?.tail_samples())
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.params.stage
    }

    #[getter]
    fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Switches the stage's telemetry on or off (see `take_probe`).
    fn set_probing(&self, on: bool) -> PyResult<()> {
        self.locked()?.set_probing(on);
        Ok(())
    }

    /// Telemetry since the last call, as a dict (samples, nan_sanitized, input_clamped,
    /// denormal_flushes, newton_failures, table_misses, supply_min_v, supply_max_v, rail_excursions;
    /// NaN supply extremes become None); None when probing is off or the stage has none.
    fn take_probe<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(p) = self.locked()?.take_probe() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("samples", p.samples)?;
        d.set_item("nan_sanitized", p.nan_sanitized)?;
        d.set_item("input_clamped", p.input_clamped)?;
        d.set_item("denormal_flushes", p.denormal_flushes)?;
        d.set_item("newton_failures", p.newton_failures)?;
        d.set_item("table_misses", p.table_misses)?;
        let volts = |v: f64| (!v.is_nan()).then_some(v);
        d.set_item("supply_min_v", volts(p.supply_min_v))?;
        d.set_item("supply_max_v", volts(p.supply_max_v))?;
        d.set_item("rail_excursions", p.rail_excursions)?;
        Ok(Some(d))
    }

    /// Oversampling factor the stage runs at (1 = the host rate).
    #[getter]
    fn oversample(&self) -> usize {
        self.oversample
    }

    /// Resolved parameters (defaults filled in), name → value.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, v) in self.params.entries() {
            d.set_item(name, param_value_to_py(py, v)?)?;
        }
        Ok(d)
    }
}

/// Checks `x` for non-finite samples (an error naming `what` and the sample), then renders
/// a copy of it through `proc` in blocks of `block` samples with the GIL released.
pub(crate) fn render<'py>(
    py: Python<'py>,
    proc: &mut dyn Processor,
    what: &str,
    x: PyReadonlyArray1<'py, f32>,
    block: usize,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let mut buf: Vec<f32> = x.as_array().iter().copied().collect();
    if let Some(idx) = buf.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{what}: input sample {idx} is {} (NaN/Inf input is rejected)",
            buf[idx]
        )));
    }
    py.detach(|| buf.chunks_mut(block).for_each(|b| proc.process(b)));
    Ok(PyArray1::from_vec(py, buf))
}

/// A learned cell loaded from a Greybound artifact, prepared at a sample rate.
#[pyclass(module = "harness._greybound")]
struct NativeNeuralCell {
    cell: Mutex<NeuralCell>,
    name: String,
    macs: usize,
    family: String,
    receptive_field: usize,
    footprint: Option<(usize, usize)>,
}

#[pymethods]
impl NativeNeuralCell {
    #[new]
    fn new(descriptor: std::path::PathBuf, sample_rate: f64) -> PyResult<Self> {
        let a = artifact::load(&descriptor).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut cell = NeuralCell::new(&a);
        cell.prepare(&Spec {
            sample_rate,
            max_block: RENDER_BLOCK,
        })
        .map_err(|e| PyValueError::new_err(format!("{}: {e}", descriptor.display())))?;
        let macs = cell.macs_per_sample();
        let receptive_field = cell.wavenet().map_or(1, |w| w.receptive_field());
        let footprint = cell
            .wavenet()
            .map(|w| (w.parameter_count(), w.state_bytes()));
        Ok(NativeNeuralCell {
            cell: Mutex::new(cell),
            name: a.descriptor.name,
            macs,
            family: a.descriptor.family,
            receptive_field,
            footprint,
        })
    }

    /// Processes a 1-D float32 array of volts; returns a new float32 array.
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        render(
            py,
            &mut *lock(&self.cell, "cell")?,
            &self.name,
            x,
            RENDER_BLOCK,
        )
    }

    fn reset(&self) -> PyResult<()> {
        lock(&self.cell, "cell")?.reset();
        Ok(())
    }

    /// Heap allocations made while processing `x` (the runtime rule says: zero).
    fn allocations_during_process(&self, x: PyReadonlyArray1<'_, f32>) -> PyResult<u64> {
        let mut cell = lock(&self.cell, "cell")?;
        Ok(allocations_in_process(&mut *cell, x))
    }

    /// Sets a control (operating-point feature or knob) by name, in its own units. A
    /// wavenet smooths the change (linear ramp of the knob features over its smoothing
    /// time) unless `smooth` is false; the other families always apply it at once.
    #[pyo3(signature = (name, value, smooth = true))]
    fn set_control(&self, name: &str, value: f64, smooth: bool) -> PyResult<()> {
        let mut cell = lock(&self.cell, "cell")?;
        let id = cell.control_index(name).ok_or_else(|| {
            let known: Vec<&str> = cell.control_names().collect();
            PyValueError::new_err(format!(
                "{}: unknown control '{name}' (controls: {})",
                self.name,
                known.join(", ")
            ))
        })?;
        if !value.is_finite() {
            return Err(PyValueError::new_err(format!(
                "{}: control '{name}' = {value} is not finite",
                self.name
            )));
        }
        if smooth {
            cell.set_param(id as u32, value as f32);
        } else {
            cell.set_control_immediate(id as u32, value as f32);
        }
        Ok(())
    }

    /// Knob smoothing time in seconds (wavenet; ignored by the other families).
    fn set_smoothing_seconds(&self, seconds: f64) -> PyResult<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "{}: smoothing time {seconds} s must be finite and ≥ 0",
                self.name
            )));
        }
        lock(&self.cell, "cell")?.set_smoothing_seconds(seconds);
        Ok(())
    }

    /// The artifact's family ("mlp", "gru", "table", "wavenet", ...).
    #[getter]
    fn family(&self) -> &str {
        &self.family
    }

    /// Receptive field in samples (1 + (K−1)·Σd for a wavenet; 1 for the other families,
    /// whose context window is part of the input features).
    #[getter]
    fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    /// (parameter count, streaming-state bytes) of a wavenet; None for the other families.
    #[getter]
    fn wavenet_footprint(&self) -> Option<(usize, usize)> {
        self.footprint
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn macs_per_sample(&self) -> usize {
        self.macs
    }
}

/// Zero-latency convolution with an impulse response (a cabinet IR) at one sample rate.
#[pyclass(module = "harness._greybound")]
struct NativeIrConvolver {
    conv: Mutex<IrConvolver>,
}

impl NativeIrConvolver {
    fn locked(&self) -> PyResult<MutexGuard<'_, IrConvolver>> {
        lock(&self.conv, "convolver")
    }
}

#[pymethods]
impl NativeIrConvolver {
    /// `ir`: 1-D float64 impulse response; `sample_rate` (Hz) is the IR's and the host's.
    #[new]
    fn new(py: Python<'_>, ir: PyReadonlyArray1<'_, f64>, sample_rate: f64) -> PyResult<Self> {
        let ir: Vec<f64> = ir.as_array().iter().copied().collect();
        let conv = py.detach(|| {
            let mut conv = IrConvolver::new(&ir, sample_rate)?;
            conv.prepare(&Spec {
                sample_rate,
                max_block: RENDER_BLOCK,
            })?;
            Ok::<_, Error>(conv)
        });
        Ok(NativeIrConvolver {
            conv: Mutex::new(conv.map_err(to_py_err)?),
        })
    }

    /// Processes a 1-D float32 array of volts; returns a new float32 array.
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        render(py, &mut *self.locked()?, "ir_convolver", x, RENDER_BLOCK)
    }

    /// Heap allocations made while processing `x` (the runtime rule says: zero).
    fn allocations_during_process(&self, x: PyReadonlyArray1<'_, f32>) -> PyResult<u64> {
        Ok(allocations_in_process(&mut *self.locked()?, x))
    }

    /// Returns to silence (empty delay lines).
    fn reset(&self) -> PyResult<()> {
        self.locked()?.reset();
        Ok(())
    }

    #[getter]
    fn ir_len(&self) -> PyResult<usize> {
        Ok(self.locked()?.ir_len())
    }

    #[getter]
    fn latency_samples(&self) -> PyResult<usize> {
        Ok(self.locked()?.latency_samples())
    }

    #[getter]
    fn tail_samples(&self) -> PyResult<usize> {
        Ok(self.locked()?.tail_samples())
    }

    /// Block sizes (samples) of the FFT segments behind the 64-tap direct head.
    #[getter]
    fn segment_blocks(&self) -> PyResult<Vec<usize>> {
        Ok(self.locked()?.segment_blocks())
    }
}

/// Heap allocations made by `proc.process` over `x` in blocks of `RENDER_BLOCK` (the input
/// copy is made before counting starts).
fn allocations_in_process(proc: &mut dyn Processor, x: PyReadonlyArray1<'_, f32>) -> u64 {
    let mut buf: Vec<f32> = x.as_array().iter().copied().collect();
    alloc_probe::count_allocations(|| buf.chunks_mut(RENDER_BLOCK).for_each(|b| proc.process(b)))
}

/// A whole rig inside the runtime (`greybound_core::rig::Rig`): stages in series, output
/// gain, optional cabinet IR; one call renders every block through all of them.
#[pyclass(module = "harness._greybound")]
struct NativeRig {
    rig: Mutex<Rig>,
    params: Vec<Params>,
}

#[pymethods]
impl NativeRig {
    /// `stages`: (kind, params dict, oversample) in signal order.
    #[new]
    #[pyo3(signature = (stages, sample_rate, output_gain_db=0.0, cab_ir=None))]
    fn new(
        stages: Vec<(String, Bound<'_, PyDict>, usize)>,
        sample_rate: f64,
        output_gain_db: f64,
        cab_ir: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<Self> {
        let mut built = Vec::with_capacity(stages.len());
        let mut params = Vec::with_capacity(stages.len());
        for (kind, dict, oversample) in &stages {
            let (stage, p) =
                build_prepared(kind, &given_params(kind, dict)?, sample_rate, *oversample)?;
            built.push(stage);
            params.push(p);
        }
        let cab = match cab_ir {
            Some(ir) => Some(IrConvolver::new(ir.as_slice()?, sample_rate).map_err(to_py_err)?),
            None => None,
        };
        let mut rig = Rig::new(built, output_gain_db, cab).map_err(to_py_err)?;
        rig.prepare(&Spec {
            sample_rate,
            max_block: RENDER_BLOCK,
        })
        .map_err(to_py_err)?;
        Ok(NativeRig {
            rig: Mutex::new(rig),
            params,
        })
    }

    /// Renders a 1-D float32 array of volts through the whole rig (GIL released).
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        render(py, &mut *lock(&self.rig, "rig")?, "rig", x, RENDER_BLOCK)
    }

    fn reset(&self) -> PyResult<()> {
        lock(&self.rig, "rig")?.reset();
        Ok(())
    }

    /// Sets live parameter `name` of stage `stage` (smoothed inside the stage).
    fn set_param(&self, stage: usize, name: &str, value: f64) -> PyResult<()> {
        let p = self.params.get(stage).ok_or_else(|| {
            PyValueError::new_err(format!(
                "rig: no stage {stage} (it has {})",
                self.params.len()
            ))
        })?;
        let id = live_param_id(p, name, value)?;
        lock(&self.rig, "rig")?.set_param(Rig::param_address(stage, id), value as f32);
        Ok(())
    }

    /// Heap allocations made while processing `x` (the runtime rule says: zero).
    fn allocations_during_process(&self, x: PyReadonlyArray1<'_, f32>) -> PyResult<u64> {
        Ok(allocations_in_process(&mut *lock(&self.rig, "rig")?, x))
    }

    #[getter]
    fn latency_samples(&self) -> PyResult<usize> {
        Ok(lock(&self.rig, "rig")?.latency_samples())
    }

    #[getter]
    fn tail_samples(&self) -> PyResult<usize> {
        Ok(lock(&self.rig, "rig")?.tail_samples())
    }
}

/// Every stage kind with its parameters: a list of dicts.
#[pyfunction]
fn describe_stages<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for spec in stage_specs() {
        let params = PyList::empty(py);
        for p in spec.params {
            let d = PyDict::new(py);
            d.set_item("name", p.name)?;
            d.set_item("doc", p.doc)?;
            match p.kind {
                ParamKind::Number {
                    default,
                    min,
                    max,
                    unit,
                } => {
                    d.set_item("type", "number")?;
                    d.set_item("default", default)?;
                    d.set_item("min", min)?;
                    d.set_item("max", max)?;
                    d.set_item("unit", unit)?;
                }
                ParamKind::Choice { default, choices } => {
                    d.set_item("type", "choice")?;
                    d.set_item("default", default)?;
                    d.set_item("choices", choices.to_vec())?;
                }
            }
            params.append(d)?;
        }
        let s = PyDict::new(py);
        s.set_item("kind", spec.kind)?;
        s.set_item("doc", spec.doc)?;
        s.set_item("params", params)?;
        out.append(s)?;
    }
    Ok(out)
}

/// Allocations the probe counts for one 64-byte `Vec` (must be ≥ 1: proves the probe works).
#[pyfunction]
fn allocation_probe_self_test() -> u64 {
    alloc_probe::count_allocations(|| {
        std::hint::black_box(vec![0u8; 64]);
    })
}

#[pymodule]
fn _greybound(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeStage>()?;
    m.add_class::<NativeNeuralCell>()?;
    m.add_class::<NativeIrConvolver>()?;
    m.add_class::<NativeRig>()?;
    m.add_class::<nam::NativeNamModel>()?;
    m.add("MAX_IR_SAMPLES", MAX_IR_SAMPLES)?;
    m.add_function(wrap_pyfunction!(describe_stages, m)?)?;
    m.add_function(wrap_pyfunction!(allocation_probe_self_test, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
