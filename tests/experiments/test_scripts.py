"""The recording scripts are argparse shims: --help answers at once, bad flags exit 2."""

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
RECORDERS = ["record_scale", "record_detection", "record_forgetting", "record_input_ceiling"]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", RECORDERS)
def test_help_answers_without_recording(name, capsys):
    with pytest.raises(SystemExit) as done:
        _load(name).main(["--help"])
    assert done.value.code == 0 and "usage" in capsys.readouterr().out


def test_record_scale_needs_something_to_record(capsys):
    with pytest.raises(SystemExit) as done:
        _load("record_scale").main([])
    assert done.value.code == 2
    assert "give --strategy, --matched-filter, --all-background or --sweep" in (
        capsys.readouterr().err
    )
