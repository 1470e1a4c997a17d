//! [`OneKnob`]: the [`CircuitDesign`] shared by linear stages with a single live knob (the
//! volume and cut controls). A stage supplies only its netlist at a knob value
//! ([`OneKnobCircuit`]); the knob's start value, smoothing time and `set_param` plumbing
//! live here once.

use std::marker::PhantomData;

use super::circuit_stage::CircuitDesign;
use super::params::Params;
use crate::circuit::{Linear, Netlist};
use crate::error::Error;

/// The stage-specific part of a one-knob linear stage.
pub trait OneKnobCircuit: 'static {
    /// The registry name of the stage.
    const KIND: &'static str;
    /// The knob's parameter name (its value at construction is the knob's start value).
    const KNOB: &'static str;
    /// Spec ids: `[knob]` (a slice, as `CircuitDesign::knob_ids` returns) and the
    /// smoothing-time parameter (`smoothing_ms`).
    const KNOB_IDS: &'static [u32; 1];
    const SMOOTHING_ID: u32;
    /// Writes the netlist at knob value `knob` (a fraction in [0, 1]) into `net`; must not
    /// allocate when `net` already holds this stage's topology.
    fn netlist_at(params: &Params, knob: f64, net: &mut Netlist);
}

/// A one-knob linear stage's design: its parameters and the knob's current value.
pub struct OneKnob<C> {
    params: Params,
    knob: f64,
    circuit: PhantomData<fn() -> C>,
}

impl<C: OneKnobCircuit> CircuitDesign for OneKnob<C> {
    type Device = Linear;
    const KIND: &'static str = C::KIND;

    fn from_params(params: &Params) -> Result<Self, Error> {
        Ok(OneKnob {
            params: params.clone(),
            knob: params.num(C::KNOB),
            circuit: PhantomData,
        })
    }

    fn netlist(&self) -> Netlist {
        let mut net = Netlist::default();
        self.netlist_into(&mut net);
        net
    }

    fn device(&self) -> Linear {
        Linear
    }

    fn knob_ids(&self) -> &'static [u32] {
        C::KNOB_IDS
    }

    fn knob(&self, _id: u32) -> f64 {
        self.knob
    }

    fn set_knob(&mut self, id: u32, value: f64) {
        if id == C::KNOB_IDS[0] {
            self.knob = value;
        }
    }

    fn smoothing(&self) -> Option<(u32, f64)> {
        Some((C::SMOOTHING_ID, self.params.num("smoothing_ms")))
    }

    fn netlist_into(&self, net: &mut Netlist) {
        C::netlist_at(&self.params, self.knob, net);
    }
}
