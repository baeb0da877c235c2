"""lora_teach.notebook.session: the run profile a chapter uses, and deterministic plotly output."""

import pytest

from lora_teach.notebook import session as notebook


@pytest.fixture(autouse=True)
def _no_chosen_profile(monkeypatch):
    monkeypatch.setattr(notebook, "_chosen", None)
    monkeypatch.delenv("LORA_TEACH_PROFILE", raising=False)


def test_profile_defaults_to_gpu_only_where_cuda_is_available(monkeypatch):
    monkeypatch.setattr(notebook.torch.cuda, "is_available", lambda: False)
    assert notebook.profile() == "cpu"
    monkeypatch.setattr(notebook.torch.cuda, "is_available", lambda: True)
    assert notebook.profile() == "gpu"


def test_environment_then_set_profile_take_precedence(monkeypatch):
    monkeypatch.setattr(notebook.torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LORA_TEACH_PROFILE", "cpu")
    assert notebook.profile() == "cpu"
    assert notebook.set_profile("full") == "full" and notebook.profile() == "full"


def test_bad_profiles_name_the_value():
    with pytest.raises(
        ValueError,
        match=r"set_profile's name must be one of \['cpu', 'full', 'gpu', 'scale'\], got 'fast'",
    ):
        notebook.set_profile("fast")


def test_bad_environment_profile_names_the_variable(monkeypatch):
    monkeypatch.setenv("LORA_TEACH_PROFILE", "GPU")
    with pytest.raises(ValueError, match=r"LORA_TEACH_PROFILE must be one of .*, got 'GPU'"):
        notebook.profile()


def test_book_renderer_div_ids_come_from_the_figure():
    import plotly.graph_objects as go

    one = go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).to_dict()
    other = go.Figure(go.Scatter(x=[1, 2], y=[3, 5])).to_dict()
    renderer = notebook.BookRenderer()
    first, again, different = (renderer.to_mimebundle(f)["text/html"] for f in (one, one, other))
    assert first == notebook.BookRenderer().to_mimebundle(one)["text/html"]  # a new kernel: same id
    ids = [html.split('id="')[1].split('"')[0] for html in (first, again, different)]
    assert len(set(ids)) == 3 and ids[0].endswith("-1") and ids[1].endswith("-2")


def test_book_renderer_shows_a_slider_figure_at_its_chosen_frame():
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Bar(y=[1]), frames=[go.Frame(name=str(k), data=[go.Bar(y=[k])]) for k in (1, 2)]
    )
    html = notebook.BookRenderer().to_mimebundle(fig.to_dict())["text/html"]
    assert "Plotly.addFrames" in html  # the frames are there for the slider
    assert "Plotly.animate" not in html  # but nothing plays through them when the page loads
