"""Learned cells: specs, PyTorch models, losses, training, export to Greybound artifacts,
equivalence vectors and evaluation against SPICE datasets.

Importing ``harness.cells.models``/``train``/``vectors`` needs the ``train`` extra (torch);
``spec`` and ``evaluate`` run on the Rust runtime alone.
"""
