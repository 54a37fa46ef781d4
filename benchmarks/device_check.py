"""A one-off check on a CUDA machine: trace, backward and DOT/JSON with CUDA tensors (device shown in labels).

Usage: python benchmarks/device_check.py OUT_DIR   (SVG is rendered elsewhere from the DOT it writes)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import graphviz_ad as gad  # noqa: E402
from graphviz_ad.model.export import dumps  # noqa: E402
from nested_function import f  # noqa: E402  (examples/: the lesson's function)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: a dry run of this script
    report["gpu"] = torch.cuda.get_device_name(0) if dev == "cuda" else None
    xs = [torch.tensor(v, device=dev, requires_grad=True) for v in (1.0, 2.0, 3.0)]
    t = gad.trace(f, *xs).backward()
    cpu = gad.trace(f, *[torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0)]).backward()
    report["nested_devices"] = sorted({n.value.device for n in t.nodes})
    report["nested_equal_cpu"] = all(
        abs(a.value.scalar() - b.value.scalar()) < 1e-6 and (a.grad is None or abs(a.grad.scalar() - b.grad.scalar()) < 1e-6)
        for a, b in zip(t.nodes, cpu.nodes))
    report["nested_steps"] = [s.grad_fn for s in t.steps]
    report["xs_grad_untouched"] = all(x.grad is None for x in xs)
    dot = t.to_dot()
    report["device_in_labels"] = "cuda:0" in dot if dev == "cuda" else None
    (out / "nested_cuda.dot").write_text(dot)
    (out / "nested_cuda.json").write_text(dumps(t.to_json()))
    (out / "nested_cuda_steps.txt").write_text(t.stepper().text())

    import resnet_cnn
    import transformer

    for name, build, shape in (("resnet_cnn", resnet_cnn.build, (1, 3, 64, 64)), ("transformer", transformer.build, (1, 32, 128))):
        model = build().to(dev)
        x = torch.randn(*shape, device=dev)
        t = gad.trace(lambda: model(x).float().pow(2).mean()).backward()
        model.zero_grad()
        model(x).float().pow(2).mean().backward()
        p_name, p = next(iter(model.named_parameters()))
        g = t.node(p_name).grad
        ref = p.grad.detach().double()
        ok = (abs(g.stats["norm"] - float(ref.norm())) < 1e-4 * max(1.0, float(ref.norm()))) if g.stats else torch.allclose(torch.tensor(g.to_json(), dtype=torch.float64), ref.cpu(), atol=1e-6)
        if dev == "cuda":
            torch.cuda.synchronize()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            model(x).float().pow(2).mean().backward()
            if dev == "cuda":
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            tt = gad.trace(lambda: model(x).float().pow(2).mean()).backward()
            tt.to_json()
            if dev == "cuda":
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            times.append(((t2 - t1) / (t1 - t0)))
        times.sort()
        report[name] = {"nodes": len(t.nodes), "steps": len(t.steps), "first_param_grad_matches": bool(ok),
                        "params_on": str(p.device), "median_ratio_traced_vs_plain": round(times[2], 2)}
        (out / f"{name}_cuda.dot").write_text(t.to_dot())
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
