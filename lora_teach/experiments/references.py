"""The reference detectors recorded on the held-out test split: the matched-filter search over
the template bank, and band power.

    python scripts/record_detection.py [--background 100000] [--per-snr 400]
    python scripts/record_scale.py --matched-filter

The first writes ``data/results/detection/scores.npz`` (every score: the injections' and the
background's) and ``summary.json`` (the bank, its effectualness, timings, provenance); the chapters
read these, and the background's first chunk is also what they recompute and compare. The second
summarises those scores into ``matched_filter.json`` and ``band_power.json``, on the same test
windows as the trained strategies' records and on all of them.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from lora_teach._paths import DETECTION
from lora_teach.detection.band_power import band_power_score
from lora_teach.detection.matched_filter import ARRIVAL_MARGIN_S, COINCIDENCE_MARGIN_S, search
from lora_teach.detection.metrics import threshold_at_fap
from lora_teach.detection.report import detection_summary
from lora_teach.detection.template_bank import (
    INTRINSIC,
    STOP_RATE,
    STOP_WINDOW,
    TemplateBank,
    bank_cache_path,
    default_bank,
    effectualness,
    effectualness_report,
    recorded_bank,
    template_key,
)
from lora_teach.files import write_json_atomic, write_npz_atomic
from lora_teach.gw.config import GWConfig
from lora_teach.gw.signals import draw_params
from lora_teach.gw.test_split import BACKGROUND_CHUNK, background_chunks, injections
from lora_teach.provenance import git_commit, versions

__all__ = ["record_searches", "rescore_injections", "record_references"]


def _score_background(config: GWConfig, bank, n: int) -> tuple:
    """The search's and band power's scores on the first ``n`` background windows, chunk by
    chunk (not cached: 100,000 windows are 3 GB), with the seconds spent generating and
    searching them."""
    mf_noise, bp_noise = [], []
    generate_s = search_s = 0.0
    chunks = background_chunks(config, n, cache=False)
    while True:
        start = time.perf_counter()
        chunk = next(chunks, None)
        generate_s += time.perf_counter() - start
        if chunk is None:
            return mf_noise, bp_noise, generate_s, search_s
        start = time.perf_counter()
        mf_noise.append(search(chunk.strain, config, bank))
        search_s += time.perf_counter() - start
        bp_noise.append(band_power_score(chunk.strain))
        print(f"background: {sum(map(len, mf_noise))} windows, search {search_s:.0f} s", flush=True)


def _previous_bank(config: GWConfig, prior: dict) -> dict | None:
    """The superseded bank of ``bank_v1.json``, if present: its rule, size and effectualness on
    the same injections, for the chapter's before and after."""
    path = DETECTION / "bank_v1.json"
    if not path.is_file():
        return None
    old = json.loads(path.read_text())
    params = {k: np.asarray(old["params"][k]) for k in INTRINSIC}
    bank = TemplateBank(config, params, old["minimal_match"], old["n_proposals"], old["seed"])
    best = effectualness(bank, prior)
    return {"rule": old["rule"], "size": len(bank), "source": old["source"]} | {
        "effectualness": effectualness_report(best, prior, bank.minimal_match)
    }


def record_searches(
    background: int = 100_000, per_snr: int = 400, effectualness_injections: int = 1000
) -> dict:
    """Build (or load) the bank, measure its effectualness on ``effectualness_injections`` draws
    from the prior, and score the test split (``per_snr`` injections per SNR, ``background``
    noise windows) with the matched-filter search and band power. Writes ``scores.npz`` and
    ``summary.json``; returns the summary."""
    torch.set_num_threads(2)
    config = GWConfig()

    cached = bank_cache_path(config).is_file()
    start = time.perf_counter()
    bank = default_bank(config, progress=True)
    bank_seconds = time.perf_counter() - start
    prior = draw_params(config, effectualness_injections, np.random.default_rng(2026))
    start = time.perf_counter()
    best = effectualness(bank, prior)
    effectualness_seconds = time.perf_counter() - start

    inj = injections(config, per_snr=per_snr, progress=True)
    start = time.perf_counter()
    mf_signal = search(inj.strain, config, bank)
    injections_s = time.perf_counter() - start
    bp_signal = band_power_score(inj.strain)

    mf_noise, bp_noise, generate_s, search_s = _score_background(config, bank, background)

    scores = {
        "matched_filter_signal": mf_signal.astype(np.float32),
        "band_power_signal": bp_signal.astype(np.float32),
        "matched_filter_noise": np.concatenate(mf_noise).astype(np.float32),
        "band_power_noise": np.concatenate(bp_noise).astype(np.float32),
    }
    write_npz_atomic({"snr": inj.snr, **scores}, DETECTION / "scores.npz")
    summary = {
        "config": config.key(),
        "search": {
            "step_samples": 2,
            "coincidence_margin_s": COINCIDENCE_MARGIN_S,
            "arrival_margin_s": ARRIVAL_MARGIN_S,
        },
        "bank": {
            "template_fields": template_key(config),
            "params": {k: v.round(6).tolist() for k, v in bank.params.items()},
            "rule": "stochastic placement, proposals half uniform in (tau0, tau3), half from the"
            " injections' prior",
            "size": len(bank),
            "minimal_match": bank.minimal_match,
            "stop_rate": STOP_RATE,
            "stop_window": STOP_WINDOW,
            "n_proposals": bank.n_proposals,
            "seed": bank.seed,
            "loaded_from_cache": cached,
            "seconds": round(bank_seconds, 1),
        },
        "effectualness": effectualness_report(best, prior, bank.minimal_match)
        | {"seconds": round(effectualness_seconds, 1)},
        "previous_bank": _previous_bank(config, prior),
        "injections": {
            "per_snr": per_snr,
            "snrs": sorted(set(inj.snr.round(3).tolist())),
            "seed": 0,
            "effectualness_prior_seed": 2026,
        },
        "background_seed": 0,
        "background_windows": int(sum(map(len, mf_noise))),
        "seconds": {
            "generate_background": round(generate_s, 1),
            "search_background": round(search_s, 1),
            "search_injections": round(injections_s, 1),
        },
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "git_commit": git_commit(),
    }
    write_json_atomic(summary, DETECTION / "summary.json")
    return summary


def rescore_injections(per_snr: int = 400) -> dict:
    """Score the test split's injections again with the recorded bank and band power, keeping the
    recorded background: after the injections' stream was restored to the one every learned
    detector was scored on. Checks first that the bank still reproduces the recorded background
    (its first chunk). Rewrites ``scores.npz``'s signal arrays and ``summary.json``."""
    torch.set_num_threads(2)
    config = GWConfig()
    summary = json.loads((DETECTION / "summary.json").read_text())
    saved = dict(np.load(DETECTION / "scores.npz"))
    bank = recorded_bank(config, summary)
    first = next(background_chunks(config, BACKGROUND_CHUNK, cache=False))
    for name, scores in (
        ("matched_filter", search(first.strain, config, bank)),
        ("band_power", band_power_score(first.strain)),
    ):
        if not np.allclose(scores, saved[f"{name}_noise"][:BACKGROUND_CHUNK], rtol=1e-4):
            raise ValueError(f"{name} no longer reproduces the recorded background: record it anew")
    inj = injections(config, per_snr=per_snr, progress=True)
    start = time.perf_counter()
    mf_signal = search(inj.strain, config, bank)
    seconds = time.perf_counter() - start
    saved |= {
        "snr": inj.snr,
        "matched_filter_signal": mf_signal.astype(np.float32),
        "band_power_signal": band_power_score(inj.strain).astype(np.float32),
    }
    write_npz_atomic(saved, DETECTION / "scores.npz")
    summary["seconds"]["search_injections"] = round(seconds, 1)
    summary["injections_rescored"] = {
        "why": "the injections' stream restored to the one the learned detectors were scored on",
        "git_commit": git_commit(),
        "versions": versions(),
    }
    write_json_atomic(summary, DETECTION / "summary.json")
    return summary


def record_references(background: int = 20_000) -> dict[str, dict]:
    """The matched filter's and band power's records on the same test windows as the strategies'
    (the first ``background``), and on all of them; returns them by name."""
    scores = np.load(DETECTION / "scores.npz")
    records = {}
    for name, key in (("matched_filter", "matched_filter"), ("band_power", "band_power")):
        noise, signal = scores[f"{key}_noise"], scores[f"{key}_signal"]
        record = {
            "detector": name,
            "test": detection_summary(noise[:background], signal, scores["snr"]),
            "test_all_background": detection_summary(
                noise, signal, scores["snr"], faps=(1e-3, 1e-4)
            ),
            "threshold_fap1e-3": threshold_at_fap(noise[:background], 1e-3),
            "source": "data/results/detection/scores.npz (scripts/record_detection.py)",
            "versions": versions(),
            "git_commit": git_commit(),
        }
        write_json_atomic(record, DETECTION / f"{name}.json")
        records[name] = record
    return records
