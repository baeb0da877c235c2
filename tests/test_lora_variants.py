"""LoRA's descendants against PEFT on the same base weights and inputs: DoRA (outputs, gradients,
merge), PiSSA (the SVD start and the residual), LoRA+ (the optimiser groups); their adapters saved
and reloaded exactly, exported to PEFT; and bad input named."""

import copy

import pytest
import torch
from torch import nn

peft = pytest.importorskip("peft")

from helpers import tiny_encoder  # noqa: E402

from lora_teach import (  # noqa: E402
    LoRALinear,
    add_lora,
    export_peft_adapter,
    load_adapter,
    lora_disabled,
    lora_layers,
    lora_plus_param_groups,
    merge_lora,
    save_adapter,
    unmerge_lora,
)
from lora_teach.whisper.targets import whisper_targets  # noqa: E402

SUFFIXES = ["attn.query", "attn.key", "attn.value", "mlp.0", "mlp.2"]
TARGETS = whisper_targets(["q", "k", "v", "mlp"])


def _base():
    torch.manual_seed(0)
    return tiny_encoder(n_layer=2, n_state=64).eval()


def _peft(base, **config):
    config = peft.LoraConfig(target_modules=SUFFIXES, lora_dropout=0.0, **config)
    return peft.inject_adapter_in_model(config, copy.deepcopy(base))


def _set_same_values(ours, theirs, magnitude=False):
    """Random A, B (and DoRA magnitudes) copied into both models: B != 0 catches more bugs."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, layer in lora_layers(ours).items():
            other = theirs.get_submodule(name)
            for mine, their in (
                (layer.lora_A, other.lora_A["default"].weight),
                (layer.lora_B, other.lora_B["default"].weight),
            ):
                value = torch.randn(mine.shape, generator=g) * 0.1
                mine.copy_(value)
                their.copy_(value)
            if magnitude:
                value = layer.lora_magnitude * (
                    1 + 0.1 * torch.randn(layer.out_features, generator=g)
                )
                layer.lora_magnitude.copy_(value)
                other.lora_magnitude_vector["default"].weight.copy_(value)


def _grads(model, x):
    model.zero_grad()
    model(x).square().mean().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("rslora", [False, True])
def test_dora_matches_peft_in_outputs_gradients_and_merge(rslora):
    base = _base()
    ours = add_lora(copy.deepcopy(base), TARGETS, rank=4, alpha=8, dora=True, rslora=rslora)
    theirs = _peft(base, r=4, lora_alpha=8, use_dora=True, use_rslora=rslora).eval()
    for name, layer in lora_layers(ours).items():  # the magnitude starts at W0's row norms in both
        torch.testing.assert_close(
            layer.lora_magnitude, theirs.get_submodule(name).lora_magnitude_vector["default"].weight
        )
    _set_same_values(ours, theirs, magnitude=True)
    x = torch.randn(2, 80, 40)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    mine, their = _grads(ours, x), _grads(theirs, x)
    for name in lora_layers(ours):
        for part, peft_part in (
            ("lora_A", "lora_A.default.weight"),
            ("lora_B", "lora_B.default.weight"),
            ("lora_magnitude", "lora_magnitude_vector.default.weight"),
        ):
            torch.testing.assert_close(
                mine[f"{name}.{part}"], their[f"{name}.{peft_part}"], rtol=1e-4, atol=1e-6
            )
    with torch.no_grad():
        before = ours(x)
    W0 = {n: layer.weight.detach().clone() for n, layer in lora_layers(ours).items()}
    merge_lora(ours)
    for name, layer in lora_layers(ours).items():
        theirs.get_submodule(name).merge()
        torch.testing.assert_close(
            layer.weight, theirs.get_submodule(name).get_base_layer().weight, rtol=1e-6, atol=1e-6
        )
    with torch.no_grad():
        torch.testing.assert_close(ours(x), before, rtol=1e-5, atol=1e-5)
    unmerge_lora(ours)
    for name, layer in lora_layers(ours).items():
        torch.testing.assert_close(layer.weight, W0[name], rtol=0, atol=1e-6)


def test_a_fresh_dora_layer_is_the_base_layer_and_trains_its_magnitude():
    layer = nn.Linear(16, 12)
    x = torch.randn(5, 16)
    wrapped = LoRALinear(copy.deepcopy(layer), rank=2, alpha=2, dora=True)
    torch.testing.assert_close(wrapped(x), layer(x), rtol=1e-6, atol=1e-6)
    assert "dora=True" in repr(wrapped)
    wrapped(x).sum().backward()
    assert wrapped.lora_magnitude.grad is not None and wrapped.lora_B.grad.abs().sum() > 0


def test_pissa_starts_like_peft_and_at_the_base_model():
    base = _base()
    ours = add_lora(copy.deepcopy(base), TARGETS, rank=4, alpha=8, init="pissa")
    theirs = _peft(base, r=4, lora_alpha=8, init_lora_weights="pissa").eval()
    for name, layer in lora_layers(ours).items():
        other = theirs.get_submodule(name)
        torch.testing.assert_close(layer.lora_A, other.lora_A["default"].weight, rtol=0, atol=1e-6)
        torch.testing.assert_close(layer.lora_B, other.lora_B["default"].weight, rtol=0, atol=1e-6)
        torch.testing.assert_close(layer.weight, other.get_base_layer().weight, rtol=0, atol=1e-6)
        # the adapter holds W0's top-4 singular part: the residual's largest singular value is W0's 5th
        s0 = torch.linalg.svdvals(base.get_submodule(name).weight)
        torch.testing.assert_close(torch.linalg.svdvals(layer.weight)[0], s0[4], rtol=1e-4, atol=0)
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), base(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    merge_lora(ours)  # the residual plus the start: W0 again, within rounding
    for name, layer in lora_layers(ours).items():
        torch.testing.assert_close(layer.weight, base.get_submodule(name).weight, rtol=0, atol=1e-5)


def test_lora_plus_groups_match_peft():
    from peft.optimizers import create_loraplus_optimizer

    base = nn.Sequential(nn.Linear(8, 6), nn.LayerNorm(6), nn.Linear(6, 4), nn.Linear(4, 1))
    ours = add_lora(copy.deepcopy(base), ["0", "2"], rank=2, alpha=2, trainable=("1", "3"))
    config = peft.LoraConfig(r=2, lora_alpha=2, target_modules=["0", "2"], modules_to_save=None)
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    for (
        name,
        p,
    ) in theirs.named_parameters():  # the same trainable set: LayerNorm and last layer too
        if name.startswith(("base_model.model.1.", "base_model.model.3.")):
            p.requires_grad_(True)
    optimiser = create_loraplus_optimizer(
        theirs, torch.optim.AdamW, lr=1e-3, loraplus_lr_ratio=16, loraplus_weight_decay=0.01
    )

    def summary(groups):  # (lr, weight decay, sorted parameter shapes) of each non-empty group
        return sorted(
            (g["lr"], g["weight_decay"], sorted(tuple(p.shape) for p in g["params"]))
            for g in groups
            if g["params"]
        )

    ours_groups = lora_plus_param_groups(ours, lr=1e-3, ratio=16, weight_decay=0.01)
    assert summary(ours_groups) == summary(optimiser.param_groups)
    b_group = next(g for g in ours_groups if g["lr"] == 16e-3 and g["weight_decay"] == 0.01)
    assert all(p is layer.lora_B for p, layer in zip(b_group["params"], lora_layers(ours).values()))
    torch.optim.AdamW(ours_groups)  # a torch optimiser takes them as they are


def test_dora_and_pissa_adapters_reload_exactly_into_a_fresh_base(tmp_path):
    x = torch.randn(2, 80, 40)
    for options in (dict(dora=True), dict(init="pissa"), dict(dora=True, rslora=True)):
        trained = add_lora(_base(), TARGETS, rank=4, alpha=8, **options)
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():  # "training": every trainable tensor moves
            for p in (p for p in trained.parameters() if p.requires_grad):
                p.add_(0.05 * torch.randn(p.shape, generator=g))
        path = save_adapter(trained, tmp_path / "adapter.safetensors")
        fresh = load_adapter(_base(), path)
        with torch.no_grad():
            assert torch.equal(fresh(x), trained(x)), options
        for layer in lora_layers(fresh).values():
            assert (layer.dora, layer.init == "pissa") == (
                options.get("dora", False),
                options.get("init") == "pissa",
            )
            assert layer.lora_A.requires_grad and (
                not layer.dora or layer.lora_magnitude.requires_grad
            )


def test_a_dora_adapter_exported_to_peft_gives_peft_the_same_outputs(tmp_path):
    ours = add_lora(_base(), TARGETS, rank=4, alpha=8, dora=True)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in (p for p in ours.parameters() if p.requires_grad):
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    export_peft_adapter(ours, tmp_path)
    theirs = peft.PeftModel.from_pretrained(_base(), tmp_path).eval()
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x), rtol=1e-5, atol=1e-5)


def test_a_pissa_adapter_exports_to_peft_as_a_plain_lora_of_twice_the_rank(tmp_path):
    ours = add_lora(_base(), TARGETS, rank=4, alpha=8, init="pissa")
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in (p for p in ours.parameters() if p.requires_grad):
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    export_peft_adapter(ours, tmp_path)
    theirs = peft.PeftModel.from_pretrained(_base(), tmp_path).eval()  # onto the original W0
    assert theirs.peft_config["default"].r == 8
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(rank=17, init="pissa"), "rank must be an int in [1, 16] (min(d, k))"),
        (dict(dora=True, dropout=0.1), "dora=True is supported with dropout 0 and a kaiming"),
        (dict(dora=True, init="pissa"), "init='pissa'"),
        (dict(init="olora"), "init must be one of ('kaiming', 'gaussian', 'pissa'), got 'olora'"),
    ],
)
def test_variant_options_it_cannot_honour_are_refused_by_name(options, message):
    layer = nn.Linear(16, 24)
    before = layer.weight.detach().clone()
    model = nn.Sequential(layer)
    with pytest.raises(ValueError) as error:
        add_lora(model, ["0"], **({"rank": 4, "alpha": 4} | options))
    assert message in str(error.value)
    assert type(model[0]) is nn.Linear and torch.equal(layer.weight, before)


def test_lora_plus_refuses_a_bad_ratio_or_a_model_without_lora():
    model = add_lora(nn.Sequential(nn.Linear(4, 4)), ["0"], rank=2, alpha=2)
    for ratio in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"ratio \(lr_B / lr_A\) must be a positive number"):
            lora_plus_param_groups(model, lr=1e-3, ratio=ratio)
    with pytest.raises(ValueError, match="has no trainable lora_B"):
        lora_plus_param_groups(nn.Linear(3, 3), lr=1e-3)


def test_a_pissa_adapter_cannot_be_switched_off_into_the_base_model():
    model = add_lora(nn.Sequential(nn.Linear(8, 8)), ["0"], rank=2, alpha=2, init="pissa")
    with pytest.raises(ValueError, match="started from PiSSA"):
        with lora_disabled(model):
            pass
    with pytest.raises(RuntimeError, match="build a new layer to start again"):
        model[0].reset_lora_parameters()


def test_a_peft_dora_adapter_imports_with_peft_outputs(tmp_path):
    from lora_teach import import_peft_adapter

    theirs = peft.get_peft_model(
        _base(), peft.LoraConfig(r=4, lora_alpha=8, target_modules=SUFFIXES, use_dora=True)
    )
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in (p for p in theirs.parameters() if p.requires_grad):
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    theirs.save_pretrained(tmp_path)
    ours = import_peft_adapter(_base(), tmp_path)
    assert all(layer.dora for layer in lora_layers(ours).values())
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs.eval()(x), rtol=1e-5, atol=1e-5)
