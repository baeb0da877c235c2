"""lora_teach.notebook.live: drawings go into the Output widget's state, never into the cell's output."""

import base64

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lora_teach.notebook.live import live_controls, show_in  # noqa: E402


def test_text_replaces_what_the_output_showed():
    out = widgets.Output()
    show_in(out, "first")
    show_in(out, "second")
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "second\n"},)


def test_a_figure_is_stored_as_png_and_closed():
    out = widgets.Output()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    show_in(out, fig)
    (shown,) = out.outputs
    assert shown["output_type"] == "display_data"
    assert base64.b64decode(shown["data"]["image/png"]).startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)


def test_controls_redraw_on_change_with_their_values():
    rank = widgets.IntSlider(value=2, min=1, max=8)
    scaled = widgets.Checkbox(value=False)
    box = live_controls(
        lambda rank, scaled: f"rank {rank}, scaled {scaled}", rank=rank, scaled=scaled
    )
    out = box.children[-1]
    assert out.outputs[0]["text"] == "rank 2, scaled False\n"
    rank.value = 5
    scaled.value = True
    assert out.outputs[0]["text"] == "rank 5, scaled True\n"
    assert list(box.children[:-1]) == [rank, scaled]


def test_bad_input_names_what_was_given():
    with pytest.raises(TypeError, match="got int"):
        show_in(widgets.Output(), 3)
    with pytest.raises(ValueError, match="at least one control"):
        live_controls(lambda: "x")
