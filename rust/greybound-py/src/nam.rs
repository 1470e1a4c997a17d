//! Binding of `greybound_core::nam`: a `.nam` model as `NativeNamModel`.

use std::sync::{Mutex, MutexGuard};

use greybound_core::nam::{NamError, NamErrorKind, NamModel, NamOptions};
use greybound_core::Processor;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

fn to_py_err(e: NamError) -> PyErr {
    match e.kind {
        NamErrorKind::Io => PyOSError::new_err(e.to_string()),
        NamErrorKind::Format => PyValueError::new_err(e.to_string()),
    }
}

/// A loaded `.nam` model (WaveNet, LSTM, Linear or SlimmableContainer) rendering mono
/// float32 at the file's sample rate. `process` streams (keeps state across calls);
/// `reset` zeroes the state and prewarms on zeros for one receptive field.
#[pyclass(module = "harness._greybound")]
pub struct NativeNamModel {
    model: Mutex<NamModel>,
    sample_rate: Option<f64>,
    receptive_field: usize,
    architecture: String,
    version: String,
    metadata_json: String,
    slim_values: Vec<f64>,
    submodel: Option<usize>,
    max_block: usize,
}

impl NativeNamModel {
    fn locked(&self) -> PyResult<MutexGuard<'_, NamModel>> {
        crate::lock(&self.model, "NAM model")
    }
}

#[pymethods]
impl NativeNamModel {
    #[new]
    #[pyo3(signature = (path, slim=None, fast_tanh=false, max_block=4096))]
    fn new(
        path: std::path::PathBuf,
        slim: Option<f64>,
        fast_tanh: bool,
        max_block: usize,
    ) -> PyResult<Self> {
        if max_block == 0 {
            return Err(PyValueError::new_err(format!(
                "{}: max_block must be at least 1",
                path.display()
            )));
        }
        let opts = NamOptions {
            slim,
            fast_tanh,
            max_block,
        };
        let model = NamModel::from_file(&path, &opts).map_err(to_py_err)?;
        Ok(NativeNamModel {
            sample_rate: model.sample_rate(),
            receptive_field: model.receptive_field(),
            architecture: model.architecture().to_string(),
            version: model.version().to_string(),
            metadata_json: model.metadata_json().to_string(),
            slim_values: model.slim_values().to_vec(),
            submodel: model.submodel(),
            max_block,
            model: Mutex::new(model),
        })
    }

    /// Processes a 1-D float32 array (blocks of `max_block`), keeping state across calls;
    /// returns a new float32 array. Rejects NaN/Inf input.
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        crate::render(py, &mut *self.locked()?, "NAM model", x, self.max_block)
    }

    /// Zero state, then prewarm on zeros for one receptive field.
    fn reset(&self) -> PyResult<()> {
        self.locked()?.reset();
        Ok(())
    }

    /// Heap allocations made while processing `x` (the runtime rule says: zero).
    fn allocations_during_process(&self, x: PyReadonlyArray1<'_, f32>) -> PyResult<u64> {
        Ok(crate::allocations_in_process(&mut *self.locked()?, x))
    }

    /// The file's sample rate in Hz; None when the file has none (treat as 48 kHz).
    #[getter]
    fn sample_rate(&self) -> Option<f64> {
        self.sample_rate
    }

    /// Receptive field in samples.
    #[getter]
    fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    #[getter]
    fn architecture(&self) -> &str {
        &self.architecture
    }

    #[getter]
    fn version(&self) -> &str {
        &self.version
    }

    /// The file's `metadata` object as JSON text ("{}" when absent).
    #[getter]
    fn metadata_json(&self) -> &str {
        &self.metadata_json
    }

    /// The submodels' `max_value`s of a SlimmableContainer (empty otherwise).
    #[getter]
    fn slim_values(&self) -> Vec<f64> {
        self.slim_values.clone()
    }

    /// Index of the submodel a SlimmableContainer runs (None otherwise).
    #[getter]
    fn submodel(&self) -> Option<usize> {
        self.submodel
    }
}
