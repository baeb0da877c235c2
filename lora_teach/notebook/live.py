"""Controls that redraw a figure or a line of text live, with the drawing kept in widget state.

``ipywidgets.interact`` draws through ``with output:``, which only a widget frontend routes into
the widget: a kernel without one (nbval's, a plain script) receives the drawing as an ordinary
cell output, so the cell's outputs differ between the book and its test. Here the drawing is put
into the ``Output`` widget's state instead. The book's stored widget state then holds the first
drawing (the published page shows it with no kernel), a live kernel redraws on every change, and
the cell's own output is the widget alone, the same under nbval as in the book.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["show_in", "live_controls"]


def show_in(out: widgets.Output, item: Figure | str) -> None:
    """Replace what ``out`` shows with ``item``: a matplotlib figure (closed once drawn) or text."""
    if isinstance(item, str):
        out.outputs = ({"output_type": "stream", "name": "stdout", "text": item + "\n"},)
        return
    if not isinstance(item, Figure):
        raise TypeError(f"show_in draws a matplotlib Figure or a str, got {type(item).__name__}")
    png = io.BytesIO()
    item.savefig(png, format="png", bbox_inches="tight")  # as the inline backend draws it
    plt.close(item)  # else the inline backend would show it again under the next cell run
    data = {"image/png": base64.b64encode(png.getvalue()).decode(), "text/plain": repr(item)}
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def live_controls(
    draw: Callable[..., Figure | str], **controls: widgets.ValueWidget
) -> widgets.VBox:
    """The ``controls`` above an output that shows ``draw(**their values)``, redrawn on each change.

    ``draw`` returns a matplotlib figure or a string. It is called once now, so the first drawing is
    stored with the notebook.
    """
    if not controls:
        raise ValueError("live_controls needs at least one control, got none")
    out = widgets.Output()

    def redraw(_=None):
        show_in(out, draw(**{name: control.value for name, control in controls.items()}))

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), out])
