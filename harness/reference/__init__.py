"""Slow, obviously-correct Python versions of the runtime's maths, used only by equivalence
tests. Each circuit is written as its hand-written Kirchhoff current-law equations, one per
node, with capacitors discretized by the trapezoidal rule and every sample solved by
``scipy.optimize.root`` to 1e-13 — nothing is shared with the Rust DK reduction except the
physics."""
