//! Stage parameter declarations and their validated, resolved values.

use crate::error::Error;

/// A parameter value as given by a caller.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Number(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "'{s}'"),
        }
    }
}

/// What a parameter accepts.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// A number in `[min, max]` (`max` may be +∞, e.g. an unloaded output) in `unit`.
    Number {
        default: f64,
        min: f64,
        max: f64,
        unit: &'static str,
    },
    /// One of a fixed set of names.
    Choice {
        default: &'static str,
        choices: &'static [&'static str],
    },
}

/// One declared parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub doc: &'static str,
}

/// One stage kind: its name, a description and its parameters.
#[derive(Debug, Clone, Copy)]
pub struct StageSpec {
    pub kind: &'static str,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
}

impl StageSpec {
    /// The id of parameter `name`: its index in `params`, the id `Processor::set_param`
    /// takes. `None` for a name the stage does not declare.
    pub fn param_id(&self, name: &str) -> Option<u32> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|i| i as u32)
    }
}

/// Resolved parameters: every declared parameter with a validated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub stage: &'static str,
    values: Vec<(&'static str, ParamValue)>,
    given: Vec<&'static str>,
}

impl Params {
    /// Validates `given` against `spec` and fills in defaults.
    pub fn resolve(spec: &StageSpec, given: &[(String, ParamValue)]) -> Result<Params, Error> {
        let mut values: Vec<(&'static str, ParamValue)> = spec
            .params
            .iter()
            .map(|p| {
                let v = match p.kind {
                    ParamKind::Number { default, .. } => ParamValue::Number(default),
                    ParamKind::Choice { default, .. } => ParamValue::Text(default.to_string()),
                };
                (p.name, v)
            })
            .collect();
        let mut given_names = Vec::new();
        for (name, value) in given {
            let idx = spec
                .params
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| Error::UnknownParam {
                    stage: spec.kind.to_string(),
                    param: name.clone(),
                })?;
            let p = &spec.params[idx];
            let invalid = |reason: String| Error::InvalidParam {
                stage: spec.kind.to_string(),
                param: name.clone(),
                value: value.to_string(),
                reason,
            };
            match (p.kind, value) {
                (ParamKind::Number { min, max, unit, .. }, ParamValue::Number(x)) => {
                    if x.is_nan() || *x < min || *x > max {
                        return Err(invalid(format!("must be within [{min}, {max}] {unit}")));
                    }
                }
                (ParamKind::Choice { choices, .. }, ParamValue::Text(s)) => {
                    if !choices.contains(&s.as_str()) {
                        return Err(invalid(format!("must be one of {}", choices.join(", "))));
                    }
                }
                (ParamKind::Number { .. }, _) => return Err(invalid("expects a number".into())),
                (ParamKind::Choice { .. }, _) => return Err(invalid("expects a name".into())),
            }
            values[idx].1 = value.clone();
            given_names.push(p.name);
        }
        Ok(Params {
            stage: spec.kind,
            values,
            given: given_names,
        })
    }

    /// A numeric parameter's value. Panics only on a programming error (a name the stage
    /// did not declare), never on user input, which `resolve` has checked.
    pub fn num(&self, name: &str) -> f64 {
        match self.get(name) {
            ParamValue::Number(x) => *x,
            ParamValue::Text(_) => unreachable!("parameter {name} is not numeric"),
        }
    }

    /// A choice parameter's value.
    pub fn text(&self, name: &str) -> &str {
        match self.get(name) {
            ParamValue::Text(s) => s,
            ParamValue::Number(_) => unreachable!("parameter {name} is not a choice"),
        }
    }

    /// Whether the caller set `name` explicitly.
    pub fn was_given(&self, name: &str) -> bool {
        self.given.contains(&name)
    }

    /// All parameters in declaration order.
    pub fn entries(&self) -> &[(&'static str, ParamValue)] {
        &self.values
    }

    fn get(&self, name: &str) -> &ParamValue {
        &self
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| unreachable!("undeclared parameter {name}"))
            .1
    }
}

/// Declares a numeric parameter (for the stages' `const` specs).
pub const fn number(
    name: &'static str,
    default: f64,
    min: f64,
    max: f64,
    unit: &'static str,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number {
            default,
            min,
            max,
            unit,
        },
        doc,
    }
}

/// Declares a choice parameter.
/// The `solver` parameter shared by the tube stages: how the port equation is solved.
pub const SOLVER: ParamSpec = choice(
    "solver",
    "table",
    &["table", "newton"],
    "port equation: solution tables built in prepare (Newton where a sample leaves them), or damped Newton every sample",
);

/// The `table_peak` parameter of a tube stage: the input peak (V) its tables are explored
/// to, with the stage's own default.
pub const fn table_peak(default: f64) -> ParamSpec {
    number(
        "table_peak",
        default,
        1e-3,
        1e4,
        "V",
        "input peak the solution tables are explored to (beyond it: Newton)",
    )
}

impl Params {
    /// The exploration peak (V) when `solver` is `"table"`, else `None`.
    pub fn table_drive_v(&self) -> Option<f64> {
        (self.text("solver") == "table").then(|| self.num("table_peak"))
    }
}

pub const fn choice(
    name: &'static str,
    default: &'static str,
    choices: &'static [&'static str],
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Choice { default, choices },
        doc,
    }
}
