"""gad.watch: training is bit-identical with and without it, its numbers are PyTorch's, its hooks go away."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.training import TrainingError
from tests.training.conftest import train, widenet, widenet_data


def _state_equal(a: dict, b: dict) -> bool:
    """Two optimizer state_dicts hold the same tensors, bit for bit."""
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    for k in a["state"]:
        sa, sb = a["state"][k], b["state"][k]
        if sa.keys() != sb.keys():
            return False
        for key in sa:
            x, y = sa[key], sb[key]
            if isinstance(x, torch.Tensor):
                if not torch.equal(x, y):
                    return False
            elif x != y:
                return False
    return True


class DropNet(nn.Module):
    """Dropout (uses the RNG) and BatchNorm (running statistics): what a careless recorder would disturb."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.SGD(p, lr=0.003, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=1e-3),
], ids=["sgd_momentum", "adam"])
@pytest.mark.parametrize("net", ["widenet", "dropnet"])
def test_training_is_bit_identical_with_and_without_watch(make_opt, net, tmp_path):
    def build() -> nn.Module:
        torch.manual_seed(7)
        return widenet(64) if net == "widenet" else DropNet()

    data = widenet_data()
    plain = build()
    opt_plain = make_opt(plain.parameters())
    torch.manual_seed(11)
    losses_plain = train(plain, opt_plain, 25, data)
    rng_plain = torch.get_rng_state()

    watched = build()
    opt_watched = make_opt(watched.parameters())
    torch.manual_seed(11)

    def draw_midway(k: int) -> None:  # the page traces the graph on a copy: it must not disturb anything either
        if k == 10:
            run.save(tmp_path / "mid.html")

    with gad.watch(watched, opt_watched, activations=True) as run:
        losses_watched = train(watched, opt_watched, 25, data, run, after_step=draw_midway)
    assert torch.equal(torch.get_rng_state(), rng_plain)
    assert all(torch.equal(a, b) for a, b in zip(losses_plain, losses_watched, strict=True))
    for (na, a), (nb, b) in zip(plain.state_dict().items(), watched.state_dict().items(), strict=True):
        assert na == nb and torch.equal(a, b), na  # parameters and buffers (BatchNorm's running stats)
    assert _state_equal(opt_plain.state_dict(), opt_watched.state_dict())
    assert len(run.history["step"]) == 25 and (tmp_path / "mid.html").exists()


def test_recorded_norms_are_the_norms_of_a_plain_loop():
    """Grad, parameter and update norms, and their ratio, as computed by hand with torch in a plain loop."""
    data = widenet_data()
    model = widenet(64)
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    names = [n for n, _ in model.named_parameters()]
    expected: dict[str, dict[str, list[float]]] = {m: {n: [] for n in names} for m in
                                                    ("grad_norm", "param_norm", "update_norm", "update_ratio")}
    loss_fn = nn.MSELoss()
    losses = []
    with gad.watch(model, opt) as run:
        for _ in range(15):
            opt.zero_grad()
            loss = loss_fn(model(data[0]), data[1])
            loss.backward()
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            opt.step()
            run.log(loss)
            losses.append(loss.item())
            for n, p in model.named_parameters():
                g = torch.linalg.vector_norm(p.grad).item()
                pn = torch.linalg.vector_norm(p.detach()).item()
                un = torch.linalg.vector_norm(p.detach() - before[n]).item()
                expected["grad_norm"][n].append(g)
                expected["param_norm"][n].append(pn)
                expected["update_norm"][n].append(un)
                expected["update_ratio"][n].append(un / pn)
    h = run.history
    assert h["step"] == list(range(1, 16))
    assert h["loss"] == losses and h["log_step"] == list(range(1, 16))
    for metric, per_name in expected.items():
        assert list(h[metric]) == names
        for n in names:
            assert h[metric][n] == pytest.approx(per_name[n], rel=1e-6, abs=0), (metric, n)
    assert h["grad_norm"]["0.weight"] == expected["grad_norm"]["0.weight"]  # the same kernel: exactly equal
    assert h["nonfinite"] == {}


def _hook_counts(model: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, int, int]:
    forward = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return forward, len(opt._optimizer_step_pre_hooks), len(opt._optimizer_step_post_hooks)


def test_every_hook_is_removed_after_the_with():
    data = widenet_data()
    model = widenet(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with gad.watch(model, opt, activations=True) as run:
        assert _hook_counts(model, opt) != (0, 0, 0)
        train(model, opt, 3, data, run)
    assert _hook_counts(model, opt) == (0, 0, 0)
    train(model, opt, 2, data)  # steps after the with are not recorded
    assert len(run.history["step"]) == 3


def test_every_hook_is_removed_when_the_loop_raises():
    data = widenet_data()
    model = widenet(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def boom(k: int) -> None:
        if k == 2:
            raise KeyError("the user's loop failed")

    with pytest.raises(KeyError, match="the user's loop failed"):
        with gad.watch(model, opt, activations=True) as run:
            train(model, opt, 5, data, run, after_step=boom)
    assert _hook_counts(model, opt) == (0, 0, 0)
    assert run.history["step"] == [1, 2, 3]  # what was recorded before the error is kept


def test_every_n_records_every_nth_step_and_logs_pair_with_step_counts(data):
    model = widenet(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with gad.watch(model, opt, every=3, activations=True) as run:
        train(model, opt, 10, data, run)
    h = run.history
    assert h["step"] == [1, 4, 7, 10]
    assert len(h["grad_norm"]["0.weight"]) == 4 and len(h["activations"]["1"]["mean"]) == 4
    assert len(h["loss"]) == 10 and h["log_step"] == list(range(1, 11))
    with pytest.raises(TrainingError, match="every must be"):
        gad.watch(model, opt, every=0)


def test_activations_are_the_module_outputs_statistics(data):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    with torch.no_grad():
        model[0].weight.mul_(8)  # push the tanh into saturation
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with gad.watch(model, opt, activations=True) as run:
        opt.zero_grad()
        h1 = model[1](model[0](data[0]))
        relu = model[3](model[2](h1))
        expected_sat = (h1.abs() > 0.99).float().mean().item()
        expected_zero = (relu == 0).float().mean().item()
        std, mean = torch.std_mean(h1, correction=0)
        nn.MSELoss()(model(data[0]), data[1]).backward()
        opt.step()
    acts = run.history["activations"]
    assert set(acts) == {"0", "1", "2", "3", "4"}
    assert acts["1"]["saturated"] == [pytest.approx(expected_sat)] and expected_sat > 0.3
    assert acts["3"]["zero"] == [pytest.approx(expected_zero)] and expected_zero > 0.1
    assert acts["1"]["mean"] == [pytest.approx(mean.item())] and acts["1"]["std"] == [pytest.approx(std.item())]
    assert set(acts["0"]) == {"mean", "std"}


def test_nan_and_inf_are_flagged_at_the_step_they_first_appear(data):
    model = widenet(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs, targets = data
    with gad.watch(model, opt) as run:
        for k in range(6):
            opt.zero_grad()
            x = inputs.clone()
            if k == 3:
                x[0, 0] = float("nan")
            loss = nn.MSELoss()(model(x), targets)
            loss.backward()
            opt.step()
            run.log(loss)
    h = run.history
    assert h["nonfinite"]["loss"] == 4
    assert h["nonfinite"]["0.weight"] == 4 and h["nonfinite"]["2.bias"] == 4
    assert math.isnan(h["grad_norm"]["0.weight"][3]) and math.isfinite(h["grad_norm"]["0.weight"][2])
    text = json.dumps(run.to_json(), allow_nan=False)  # JSON-safe: non-finite numbers are strings
    assert '"nan"' in text


def test_log_takes_numbers_and_one_element_tensors_only(small_run):
    small_run._recorder.start()
    try:
        small_run.log(acc=torch.tensor([0.5]), lr=0.1)
        with pytest.raises(TrainingError, match="one number"):
            small_run.log(torch.ones(3))
        with pytest.raises(TrainingError, match="taken by the record"):
            small_run.log(grad_norm=1.0)
        with pytest.raises(TrainingError, match="needs something to log"):
            small_run.log()
        with pytest.raises(TrainingError, match="number or a one-element tensor"):
            small_run.log(loss="low")
    finally:
        small_run._recorder.stop()
    h = small_run.history
    assert h["acc"] == [None] * 12 + [0.5] and len(h["loss"]) == 13 and h["loss"][-1] is None


def test_watch_refuses_what_is_not_a_model_and_an_optimizer():
    model = widenet(4)
    with pytest.raises(TrainingError, match="nn.Module"):
        gad.watch(lambda x: x, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingError, match="torch.optim.Optimizer"):
        gad.watch(model, "sgd")


def test_parameters_without_gradient_record_zero_and_names_follow_the_optimizer(data):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    extra = nn.Parameter(torch.ones(2))  # in the optimizer, not in the model, never used
    opt = torch.optim.SGD([{"params": model.parameters()}, {"params": [extra], "lr": 0.5}], lr=0.01)
    with gad.watch(model, opt) as run:
        train(model, opt, 2, data, run)
    h = run.history
    assert list(h["grad_norm"]) == ["0.weight", "0.bias", "2.weight", "2.bias", "group1.0"]
    assert h["grad_norm"]["group1.0"] == [0.0, 0.0] and h["update_norm"]["group1.0"] == [0.0, 0.0]
    assert h["param_norm"]["group1.0"] == [pytest.approx(math.sqrt(2))] * 2


def test_json_round_trip_keeps_the_history(small_run, tmp_path):
    from graphviz_ad.training import load

    path = small_run.save(tmp_path / "run.json")
    again = load(path)
    assert again.history == small_run.history
    assert again.config == {"optimizer": "SGD", "lr": 0.003, "momentum": 0.9}
    (tmp_path / "other.json").write_text('{"schema": "graphviz_ad/1"}', encoding="utf-8")
    with pytest.raises(TrainingError, match="not a run saved by graphviz_ad"):
        load(tmp_path / "other.json")


def test_memory_grows_by_scalars_only(data):
    """Per recorded step the record grows by 3 floats per parameter (8 bytes each), nothing else."""
    model = widenet(64)
    opt = torch.optim.SGD(model.parameters(), lr=0.003)
    with gad.watch(model, opt, graph=False) as run:
        train(model, opt, 10, data)
        size = run.record.rows.buffer_info()[1]
        train(model, opt, 10, data)
    assert size == 10 * 3 * 4
    assert run.record.rows.buffer_info()[1] == 20 * 3 * 4 and run.record.rows.itemsize == 8
    assert run._recorder._before == []  # the snapshot buffers are freed at the end of the with


def test_half_precision_and_sparse_gradients_are_measured_in_float32():
    """bfloat16 parameters: norms in float32 (a half-precision norm would round, or overflow); an Embedding
    with sparse gradients: its norm still recorded (one norm per tensor where foreach cannot)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1)).to(torch.bfloat16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(8, 4, dtype=torch.bfloat16) * 300
    with gad.watch(model, opt) as run:
        opt.zero_grad()
        (model(x).float().pow(2).sum() * 1e4).backward()
        expected = {n: torch.linalg.vector_norm(p.grad.float()).item() for n, p in model.named_parameters()}
        opt.step()
    for n, v in expected.items():
        assert run.history["grad_norm"][n] == [pytest.approx(v, rel=1e-6)], n
    # beyond float16's range, and a bfloat16 norm (3 digits) would miss the 1e-6 above
    assert max(expected.values()) > 65504 and run.history["nonfinite"] == {}

    emb = nn.Embedding(10, 3, sparse=True)
    opt = torch.optim.SGD(emb.parameters(), lr=0.1)
    with gad.watch(emb, opt) as run:
        opt.zero_grad()
        emb(torch.tensor([1, 2, 2])).sum().backward()
        dense = emb.weight.grad.to_dense()
        opt.step()
    assert run.history["grad_norm"]["weight"] == [pytest.approx(torch.linalg.vector_norm(dense).item())]


def test_rows_held_back_as_a_tensor_read_the_same(data, monkeypatch):
    """The recorder keeps the newest rows in a tensor and converts them in batches: a history read mid-run,
    across the batch boundary, with updates=False, or after a nan, is what the per-step norms say."""
    from graphviz_ad.training import recorder

    monkeypatch.setattr(recorder, "CHUNK", 3)  # batches of 3 rows: 8 steps cross the boundary twice
    model = widenet(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.003)
    expected = []
    with gad.watch(model, opt, graph=False, updates=False) as run:
        rec = run._recorder
        for k in range(8):
            opt.zero_grad()
            nn.functional.mse_loss(model(data[0]), data[1]).backward()
            if k == 5:
                model[0].bias.grad[0] = math.nan
            expected.append([torch.linalg.vector_norm(p.grad).item() for p in model.parameters()])
            opt.step()
            if k == 3:  # one row held back, then read: the history has all 4
                assert rec._fill == 1 and run.history["step"] == [1, 2, 3, 4] and rec._fill == 0
        assert rec._fill == 1  # held back again until the end of the with
    h = run.history
    assert h["step"] == list(range(1, 9)) and rec._buf is None
    for i, n in enumerate(run.names):
        got = h["grad_norm"][n]
        assert all((g == e) or (math.isnan(g) and math.isnan(e)) for g, e in zip(got, [r[i] for r in expected],
                                                                                  strict=True)), n
        assert all(math.isnan(u) for u in h["update_norm"][n])
    assert h["nonfinite"] == {"0.bias": 6, "0.weight": 7, "2.weight": 7, "2.bias": 7}  # the nan spreads at step 7
