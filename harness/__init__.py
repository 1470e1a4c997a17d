"""Greybound Lab: the regression-test and benchmark lab for gray-box guitar-amp models.

Layers (imports only go down): ``runtime`` (the only module that imports the native
``harness._greybound`` extension), ``audio``/``stimuli``, ``spice``, ``metrics``, gates,
trend store and reports. See ``../shared/ARCHITECTURE.md`` and the README.
"""

__version__ = "0.1.0"
