"""``gad.watch(model, optimizer)``: record a training run through optimizer and module hooks, changing nothing.

At each recorded optimizer step (every ``every``-th), for every parameter the optimizer trains: the
gradient norm (post-step, so DDP's synchronized gradient), the parameter norm after the step, the
update norm ``||p_after - p_before||`` and their ratio. A step pre-hook copies the parameters into
buffers allocated once; the post-hook subtracts the parameters from that copy in place, takes every
norm (gradients, parameters, updates) with one ``torch._foreach_norm`` and stacks them straight into a
row of a tensor allocated once (``torch.stack(..., out=row)``). The rows become Python floats in
batches, one ``tolist()`` per :data:`CHUNK` steps (or when the history is read, or at the end): a step
costs three foreach calls, one stack and a little Python, and on a GPU there is one synchronization
per batch instead of one per step. Everything runs under ``torch.no_grad()`` and
reads only: no ``.grad``, parameter, optimizer state or RNG is touched, so the training is
bit-identical with and without the watch. Every hook is removed when the ``with`` ends, also when the
loop raises.
"""

from __future__ import annotations

from typing import Any

import torch

from .history import History, TrainingError
from .run import Run

__all__ = ["watch", "Recorder", "SATURATING", "ZEROING", "CHUNK"]

SATURATING = (torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.Hardtanh, torch.nn.Softsign)
ZEROING = (torch.nn.ReLU, torch.nn.ReLU6)
SATURATION = 0.99
_set_grad_enabled = torch._C._set_grad_enabled  # |tanh| above this (sigmoid within 0.01 of 0 or 1) counts as saturated
CHUNK = 256  # recorded steps kept as a tensor before one tolist()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel/DataParallel wrapper (names without ``module.``)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


def _records_here(rank: int | None) -> bool:
    import torch.distributed as dist

    if rank is None or not (dist.is_available() and dist.is_initialized()):
        return True
    return dist.get_rank() == rank


def _act_stats(module: torch.nn.Module) -> tuple[str, ...]:
    if isinstance(module, SATURATING):
        return ("mean", "std", "saturated")
    if isinstance(module, ZEROING):
        return ("mean", "std", "zero")
    return ("mean", "std")


class Recorder:
    """The hooks of one watch: installed by :meth:`start`, all removed by :meth:`stop`."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, every: int,
                 activations: bool, updates: bool, graph: bool) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise TrainingError(f"every must be a whole number >= 1, got {every!r}")
        self.model = _unwrap(model)
        self.optimizer = optimizer
        self.every = every
        self.updates = updates
        self.want_graph = graph
        names = {id(p): n for n, p in self.model.named_parameters()}
        self.params: list[torch.Tensor] = []
        labels: list[str] = []
        for g, group in enumerate(optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                self.params.append(p)
                labels.append(names.get(id(p), f"group{g}.{i}"))
        self.modules: list[tuple[str, torch.nn.Module]] = []
        if activations:
            self.modules = [(n, m) for n, m in self.model.named_modules() if n and not any(True for _ in m.children())]
        self.history = History(labels, {n: _act_stats(m) for n, m in self.modules})
        dtypes = {p.dtype for p in self.params}
        # float32 norms for half precision (a float16 norm overflows at 65504) and for mixed dtypes (one stack)
        low = bool(dtypes & {torch.float16, torch.bfloat16})
        self._norm_dtype = torch.float32 if low or len(dtypes) > 1 else None
        self._before: list[torch.Tensor] = []
        self._handles: list[Any] = []
        self._count = 0  # optimizer steps seen
        self._active = False
        self._pending: dict[str, list[torch.Tensor]] = {}
        # rows held back: a (rows, 3 * parameters) tensor, views of each row's cells, how many rows are filled
        self._buf: torch.Tensor | None = None
        self._cells: list[torch.Tensor] = []
        self._fill = 0
        self._held_steps: list[int] = []
        self._fast: bool | None = None  # None: not decided (first recorded step); False: the per-step fallback
        self.history.pull = self.hand_over
        self.paused = False  # set while the run traces its graph on a copy of the model
        self.sample: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._capture_handle: Any = None

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        try:
            self._handles.append(self.optimizer.register_step_pre_hook(self._pre))
            self._handles.append(self.optimizer.register_step_post_hook(self._post))
            for name, m in self.modules:
                self._handles.append(m.register_forward_hook(self._activation_hook(name, m)))
            if self.want_graph:
                self._capture_handle = self.model.register_forward_pre_hook(self._capture, with_kwargs=True)
                self._handles.append(self._capture_handle)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._handles:
            self._handles.pop().remove()
        self.hand_over()
        self._before = []  # the snapshot buffers and the row buffer are the only tensors the watch allocated
        self._buf, self._cells, self._fast = None, [], None
        self._pending = {}

    @property
    def steps_seen(self) -> int:
        return self._count

    # -- hooks ------------------------------------------------------------------------
    def _due(self) -> bool:
        """Whether the coming optimizer step is one to record."""
        return self._count % self.every == 0

    def _pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._active = self._due()
        self._count += 1
        if self._active and self.updates:
            prev = torch.is_grad_enabled()
            _set_grad_enabled(False)  # torch.no_grad() without its Python objects: this runs every step
            try:
                if not self._before:
                    self._before = [torch.empty_like(p) for p in self.params]
                torch._foreach_copy_(self._before, self.params)
            finally:
                _set_grad_enabled(prev)

    def _norms(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        if not tensors:
            return []
        try:
            if self._norm_dtype is None:
                return list(torch._foreach_norm(tensors))
            return list(torch._foreach_norm(tensors, 2, dtype=self._norm_dtype))
        except (RuntimeError, TypeError):  # sparse gradients, odd layouts: one norm per tensor
            return [torch.linalg.vector_norm(t.to_dense() if t.is_sparse else t, dtype=torch.float32) for t in tensors]

    def _post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._active:
            return
        prev = torch.is_grad_enabled()
        _set_grad_enabled(False)
        try:
            tensors = [p.grad if p.grad is not None else p.new_zeros(()) for p in self.params] + self.params
            if self.updates:
                torch._foreach_sub_(self._before, self.params)  # before - after, in our own buffers
                tensors += self._before
            if self._fast is not False and tensors:
                if self._fill == len(self._cells):
                    self.hand_over()
                if self._fast is None:
                    self._fast = self._allocate(tensors)
                if self._fast:
                    try:  # one call for grads, parameters and updates, stacked into the next row
                        if self._norm_dtype is None:
                            norms = torch._foreach_norm(tensors)
                        else:
                            norms = torch._foreach_norm(tensors, 2, dtype=self._norm_dtype)
                    except (RuntimeError, TypeError):  # a sparse gradient turned up: per step from now on
                        self._fast = False
                    else:
                        torch.stack(norms, out=self._cells[self._fill])
                        self._fill += 1
                        self._held_steps.append(self._count)
            if not self._fast:
                self.hand_over()
                self._record_now(tensors)
            if self.modules:
                self._flush_activations()
        finally:
            _set_grad_enabled(prev)

    def _allocate(self, tensors: list[torch.Tensor]) -> bool:
        """The row buffer, if every norm comes out on one device in one dtype (else: the per-step path)."""
        try:
            norms = self._norms(tensors)
        except (RuntimeError, TypeError):
            return False
        kinds = {(t.device, t.dtype) for t in norms}
        if len(kinds) != 1 or any(t.is_sparse for t in tensors):
            return False
        device, dtype = kinds.pop()
        width = 3 * len(self.params)
        rows = CHUNK
        self._buf = torch.full((rows, width), float("nan"), dtype=dtype, device=device)  # update columns stay nan
        self._cells = list(self._buf[:, :len(tensors)].unbind())  # row views, made once
        self._fill = 0
        return True

    def _record_now(self, tensors: list[torch.Tensor]) -> None:
        """The per-step path (sparse gradients, parameters on several devices or dtypes): norms to floats now."""
        norms = self._norms(tensors)
        try:
            stacked = torch.stack(norms)
        except RuntimeError:  # parameters on several devices or dtypes
            stacked = torch.stack([t.detach().to("cpu", torch.float64) for t in norms])
        values = stacked.tolist() if norms else []
        if not self.updates:
            values += [float("nan")] * len(self.params)
        self.history.add_step(self._count, values)

    def hand_over(self) -> None:
        """Give the rows held back to the history as Python floats (one tolist() for all of them)."""
        k = self._fill
        if not k:
            return
        assert self._buf is not None
        self._fill = 0
        steps, self._held_steps = self._held_steps, []
        self.history.add_steps(steps, self._buf[:k].reshape(-1).tolist())

    def _activation_hook(self, name: str, module: torch.nn.Module) -> Any:
        kind = _act_stats(module)[-1]

        def hook(mod: Any, inputs: Any, output: Any) -> None:
            if self.paused or not self._due():
                return
            y = output[0] if isinstance(output, (tuple, list)) and output else output
            if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.numel() == 0:
                return
            with torch.no_grad():
                y = y.detach()
                std, mean = torch.std_mean(y.float(), correction=0)
                stats = [mean, std]
                if kind == "saturated":
                    if isinstance(mod, torch.nn.Sigmoid):
                        sat = ((y < 1 - SATURATION) | (y > SATURATION)).float().mean()
                    else:
                        sat = (y.abs() > SATURATION).float().mean()
                    stats.append(sat)
                elif kind == "zero":
                    stats.append((y == 0).float().mean())
                self._pending[name] = stats  # the last forward before the step wins

        return hook

    def _flush_activations(self) -> None:
        pending, self._pending = self._pending, {}
        order = [n for n, _ in self.modules if n in pending]
        flat = [t for n in order for t in pending[n]]
        values = torch.stack([t.to("cpu") for t in flat]).tolist() if flat else []
        out: dict[str, list[float]] = {}
        k = 0
        for n in order:
            size = len(pending[n])
            out[n] = values[k:k + size]
            k += size
        self.history.add_activations(out)

    def _capture(self, module: Any, args: Any, kwargs: Any) -> None:
        """Keep (a copy of) the first forward's inputs: the run's graph is traced on them, once, later."""
        if self.sample is not None or self.paused:
            return
        with torch.no_grad():
            def keep(x: Any) -> Any:
                return x.detach().clone() if isinstance(x, torch.Tensor) else x

            self.sample = (tuple(keep(a) for a in args), {k: keep(v) for k, v in kwargs.items()})
        if self._capture_handle is not None:  # once is enough: a hook left on the model slows every forward
            self._capture_handle.remove()


def watch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, every: int = 1, activations: bool = False,
          updates: bool = True, graph: bool = True, rank: int | None = 0, label: str | None = None,
          config: dict[str, Any] | None = None) -> Run:
    """Record a training run in your own loop; use as ``with gad.watch(model, optimizer) as run: ...``.

    every: record every N-th optimizer step; activations: also per leaf module the output's mean,
    std and saturated (Tanh/Sigmoid) or zero (ReLU) fraction; updates: keep a copy of the parameters
    to measure each update (off: half the memory, no update norms); graph: keep the first batch to
    draw the model's graph in the page; rank: under torch.distributed only this rank records
    (None: every rank); label, config: how comparisons name the run (``config={"lr": 0.003}``).
    """
    if not isinstance(model, torch.nn.Module):
        raise TrainingError(f"watch needs an nn.Module as its first argument, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TrainingError(f"watch needs a torch.optim.Optimizer as its second argument, "
                            f"got {type(optimizer).__name__}")
    recorder = None
    if _records_here(rank):
        recorder = Recorder(model, optimizer, every=every, activations=activations, updates=updates, graph=graph)
    if config is None:
        config = _config_of(optimizer)
    return Run(recorder, label=label, config=config)


def _config_of(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's name and first group's hyperparameters (what comparisons label runs by)."""
    group = optimizer.param_groups[0] if optimizer.param_groups else {}
    config: dict[str, Any] = {"optimizer": type(optimizer).__name__}
    for key in ("lr", "momentum", "weight_decay", "betas"):
        v = group.get(key)
        if v is not None and not (key in ("momentum", "weight_decay") and v == 0):  # defaults say nothing
            config[key] = list(v) if isinstance(v, tuple) else v
    return config
