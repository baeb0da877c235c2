"""lal and lalsimulation, imported once and quietly: the one place the package imports lalsuite."""

from __future__ import annotations

import functools

__all__ = ["import_lal"]


@functools.cache
def import_lal():
    """lal and lalsimulation, imported once, quietly.

    Inside IPython, lal redirects its C-level output into the notebook and warns about it (with
    this file's path in the message, which would make notebook outputs depend on where the
    repository lives). We switch the redirection off: lal's errors still raise Python exceptions.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Wswiglal-redir-stdio")
        import lal
        import lalsimulation
    lal.swig_redirect_standard_output_error(False)
    return lal, lalsimulation
