"""watch under DistributedDataParallel (gloo, 2 CPU processes): names without ``module.``, the synchronized
gradients' norms, and only rank 0 records and writes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

STEPS = 6


def _data(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + rank)
    x = torch.randn(16, 3, generator=g)
    return x, x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(16, 1, generator=g)


def _model() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def _worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    import graphviz_ad as gad

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model = nn.parallel.DistributedDataParallel(_model())
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = _data(rank)
        with gad.watch(model, opt) as run:
            for _ in range(STEPS):
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
                run.log(loss)
        written = run.save(Path(out) / f"rank{rank}.json")
        Path(out, f"rank{rank}.status").write_text(json.dumps({"recording": run.recording,
                                                               "written": written is not None}))
        dist.barrier()  # rank 0 may still be writing: no rank leaves the group before the others are done
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_rank0_records_the_synchronized_gradients(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    status = [json.loads((tmp_path / f"rank{r}.status").read_text()) for r in (0, 1)]
    assert status == [{"recording": True, "written": True}, {"recording": False, "written": False}]
    assert not (tmp_path / "rank1.json").exists()
    data = json.loads((tmp_path / "rank0.json").read_text())
    assert data["names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]  # no "module." prefix

    # the oracle: one process, the two ranks' gradients averaged as DDP's all-reduce does
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    shards = [_data(0), _data(1)]
    expected = {n: [] for n, _ in model.named_parameters()}
    for _ in range(STEPS):
        grads = []
        for x, y in shards:
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            grads.append([p.grad.clone() for p in model.parameters()])
        for p, g0, g1 in zip(model.parameters(), *grads, strict=True):
            p.grad = (g0 + g1) / 2
        opt.step()
        for n, p in model.named_parameters():
            expected[n].append(torch.linalg.vector_norm(p.grad).item())
    for n, norms in expected.items():
        assert data["grad_norm"][n] == pytest.approx(norms, rel=1e-5), n
