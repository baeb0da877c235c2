"""The book's recorded experiments: the rank x alpha sweep (``sweep``) and LoRA's descendants
compared (``descendants``). Their APIs are parallel, so import from the module itself."""
