"""The book's recorded experiments, each a module with the function that records it: the rank x
alpha sweep (``sweep``), LoRA's descendants (``descendants``), the scale runs (``scale``,
``scale_sweep``, ``all_background``), the reference detectors (``references``), what the input allows (``input_ceiling``)
and what Whisper forgets (``forgetting``); ``grid`` is what the recorded grids share. Import from the module
itself."""
