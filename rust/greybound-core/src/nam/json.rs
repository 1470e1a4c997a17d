//! Strict, path-aware reading of a parsed `.nam` JSON document.
//!
//! Every value is reached through a [`Node`] that knows the file and its JSON key path
//! (`config.layers[1].head.kernel_size`), so any error names both. Objects are read
//! through [`Obj`], which records the keys it consumed; [`Obj::finish`] rejects every key
//! the loader did not read, so a feature this runtime does not implement is an error
//! naming that key instead of a silently wrong render.

use serde_json::{Map, Value};

use super::NamError;

/// A JSON value with the file it came from and its key path.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    file: &'a str,
    path: String,
    value: &'a Value,
}

impl<'a> Node<'a> {
    pub(crate) fn root(file: &'a str, value: &'a Value) -> Node<'a> {
        Node {
            file,
            path: String::new(),
            value,
        }
    }

    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn value(&self) -> &'a Value {
        self.value
    }

    /// An error about this value.
    pub(crate) fn err(&self, reason: impl Into<String>) -> NamError {
        NamError::format(self.file, &self.path, reason)
    }

    /// An error about key `key` of this object (which is absent or unusable).
    pub(crate) fn err_at(&self, key: &str, reason: impl Into<String>) -> NamError {
        NamError::format(self.file, &self.child_path(key), reason)
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn child(&self, key: &str, value: &'a Value) -> Node<'a> {
        Node {
            file: self.file,
            path: self.child_path(key),
            value,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        self.value.is_null()
    }

    pub(crate) fn obj(&self) -> Result<Obj<'a>, NamError> {
        match self.value {
            Value::Object(map) => Ok(Obj {
                node: self.clone(),
                map,
                used: Vec::new(),
            }),
            other => Err(self.err(format!("expected an object, found {}", kind(other)))),
        }
    }

    pub(crate) fn array(&self) -> Result<Vec<Node<'a>>, NamError> {
        match self.value {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    file: self.file,
                    path: format!("{}[{i}]", self.path),
                    value: v,
                })
                .collect()),
            other => Err(self.err(format!("expected an array, found {}", kind(other)))),
        }
    }

    pub(crate) fn bool(&self) -> Result<bool, NamError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.err(format!("expected true/false, found {}", kind(self.value))))
    }

    pub(crate) fn str(&self) -> Result<&'a str, NamError> {
        self.value
            .as_str()
            .ok_or_else(|| self.err(format!("expected a string, found {}", kind(self.value))))
    }

    /// A finite number.
    pub(crate) fn f64(&self) -> Result<f64, NamError> {
        match self.value.as_f64() {
            Some(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(format!(
                "expected a finite number, found {}",
                kind(self.value)
            ))),
        }
    }

    /// A whole number within `lo..=hi` (integral floats such as `3.0` are accepted).
    pub(crate) fn usize_in(&self, lo: usize, hi: usize) -> Result<usize, NamError> {
        let v = self.f64()?;
        if v.fract() != 0.0 || v < lo as f64 || v > hi as f64 {
            return Err(self.err(format!(
                "unsupported value {v}: expected a whole number in {lo}..={hi}"
            )));
        }
        Ok(v as usize)
    }

    /// An array of finite numbers, as f32 (the precision every NAM implementation runs at).
    pub(crate) fn f32_vec(&self) -> Result<Vec<f32>, NamError> {
        let Value::Array(items) = self.value else {
            return Err(self.err(format!("expected an array, found {}", kind(self.value))));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v.as_f64() {
                Some(x) if x.is_finite() && (x as f32).is_finite() => Ok(x as f32),
                _ => Err(NamError::format(
                    self.file,
                    &format!("{}[{i}]", self.path),
                    format!("expected a finite float32 number, found {}", short(v)),
                )),
            })
            .collect()
    }
}

/// A JSON object whose consumed keys are recorded (see [`Obj::finish`]).
pub(crate) struct Obj<'a> {
    node: Node<'a>,
    map: &'a Map<String, Value>,
    used: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub(crate) fn node(&self) -> &Node<'a> {
        &self.node
    }

    /// The value at `key`, which must be present and not null.
    pub(crate) fn req(&mut self, key: &str) -> Result<Node<'a>, NamError> {
        self.opt(key)?
            .ok_or_else(|| self.node.err_at(key, "required key is missing"))
    }

    /// The value at `key`; `None` when absent or null.
    pub(crate) fn opt(&mut self, key: &str) -> Result<Option<Node<'a>>, NamError> {
        match self.map.get_key_value(key) {
            Some((k, v)) => {
                self.used.push(k.as_str());
                Ok((!v.is_null()).then(|| self.node.child(k, v)))
            }
            None => Ok(None),
        }
    }

    /// Marks `key` as read without interpreting it (documentation-only fields).
    pub(crate) fn ignore(&mut self, key: &str) {
        if let Some((k, _)) = self.map.get_key_value(key) {
            self.used.push(k.as_str());
        }
    }

    /// Rejects any key that was not read: its meaning is not implemented here.
    pub(crate) fn finish(self) -> Result<(), NamError> {
        for (k, v) in self.map {
            if !self.used.contains(&k.as_str()) {
                return Err(self.node.err_at(
                    k,
                    format!(
                        "unsupported key (value {}): this runtime does not implement it",
                        short(v)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut to 60 characters.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}
