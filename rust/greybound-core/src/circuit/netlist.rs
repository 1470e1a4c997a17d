//! Circuit description: which elements connect which nodes.

/// A circuit node: ground, an unknown internal node, or a node held at a known voltage
/// (source 0 is the audio input; further sources are constant supplies such as B+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Node {
    #[default]
    Ground,
    Internal(usize),
    Source(usize),
}

/// A linear network with nonlinear ports. Units: ohms, farads, volts.
#[derive(Debug, Clone, Default)]
pub struct Netlist {
    /// Number of unknown internal nodes (`Node::Internal(0..n_nodes)`).
    pub n_nodes: usize,
    /// Known node voltages: index 0 is the audio input, the rest constants (V).
    pub source_volts: Vec<f64>,
    pub resistors: Vec<(Node, Node, f64)>,
    pub capacitors: Vec<(Node, Node, f64)>,
    /// Linear voltage-controlled current sources `(a, b, c, d, g)`: a current
    /// `g·(V(c) − V(d))` (A, `g` in S, either sign) leaves node b and enters node a.
    pub vccs: Vec<(Node, Node, Node, Node, f64)>,
    /// Nonlinear ports `(a, b)`: port voltage is V(a) − V(b), port current flows from a to
    /// b through the device.
    pub ports: Vec<(Node, Node)>,
    /// The output is V(a) − V(b).
    pub output: (Node, Node),
}

impl Netlist {
    /// A netlist with `n_nodes` unknown nodes, the audio input as source 0 and the given
    /// constant supplies as sources 1.. (V).
    pub fn new(n_nodes: usize, supplies: &[f64]) -> Self {
        let mut source_volts = vec![0.0];
        source_volts.extend_from_slice(supplies);
        Netlist {
            n_nodes,
            source_volts,
            ..Default::default()
        }
    }

    /// Makes `self` the empty netlist [`Netlist::new`] would give, keeping its storage:
    /// rebuilding a netlist of the same size this way does not allocate (used to re-derive
    /// element values while running, see `DkSolver::retune`).
    pub fn clear_to(&mut self, n_nodes: usize, supplies: &[f64]) -> &mut Self {
        self.n_nodes = n_nodes;
        self.source_volts.clear();
        self.source_volts.push(0.0);
        self.source_volts.extend_from_slice(supplies);
        self.resistors.clear();
        self.capacitors.clear();
        self.vccs.clear();
        self.ports.clear();
        self.output = (Node::Ground, Node::Ground);
        self
    }

    pub fn resistor(&mut self, a: Node, b: Node, ohms: f64) -> &mut Self {
        self.resistors.push((a, b, ohms));
        self
    }

    pub fn capacitor(&mut self, a: Node, b: Node, farads: f64) -> &mut Self {
        self.capacitors.push((a, b, farads));
        self
    }

    /// A current `g·(V(c) − V(d))` from node b into node a (a transconductance or, in
    /// pairs, a gyrator).
    pub fn vccs(&mut self, a: Node, b: Node, c: Node, d: Node, g: f64) -> &mut Self {
        self.vccs.push((a, b, c, d, g));
        self
    }

    pub fn port(&mut self, a: Node, b: Node) -> &mut Self {
        self.ports.push((a, b));
        self
    }
}
