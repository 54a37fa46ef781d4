"""``gad.watch(model, optimizer)``: record a training run through optimizer and module hooks, changing nothing.

At each recorded optimizer step (every ``every``-th), for every parameter the optimizer trains: the
gradient norm (post-step, so DDP's synchronized gradient), the parameter norm after the step, the
update norm ``||p_after - p_before||`` and their ratio. On a CPU (models up to :data:`FLAT_LIMIT`
parameter elements) everything goes through one workspace allocated once (:class:`_Flat`): a step
pre-hook copies the parameters into it (one foreach call); the post-hook copies the gradients and the
parameters in (one call), subtracts (one call) and takes the norms of all three as the rows of one
view per group of similar sizes (one vector_norm call each; one for the lesson's nets), straight into
a row of a tensor allocated once. Elsewhere (accelerators, where foreach calls are fused kernels;
sparse gradients; large models) the snapshot is copied into buffers of its own and the norms come from
one ``torch._foreach_norm``. The rows become Python floats in batches, one ``tolist()`` per
:data:`CHUNK` steps (or when the history is read, or at the end); activation statistics
(``activations=True``) likewise. Everything runs under ``torch.no_grad()`` and reads only: no
``.grad``, parameter, optimizer state or RNG is touched, so the training is bit-identical with and
without the watch. Every hook is removed when the ``with`` ends, also when the loop raises.
"""

from __future__ import annotations

from typing import Any

import torch

from .history import History, TrainingError
from .run import Run

__all__ = ["watch", "Recorder", "SATURATING", "ZEROING", "CHUNK"]

SATURATING = (torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.Hardtanh, torch.nn.Softsign)
ZEROING = (torch.nn.ReLU, torch.nn.ReLU6)
SATURATION = 0.99  # |tanh| above this (sigmoid within 0.01 of 0 or 1) counts as saturated
_set_grad_enabled = torch._C._set_grad_enabled
CHUNK = 256  # recorded steps kept as a tensor before one tolist()
FLAT_LIMIT = 1 << 20  # parameter elements up to which the norms go through one workspace (3 copies of them)
PAD_FREE = 4096  # zeros a workspace group may hold


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
        # activation statistics held back: a (rows, statistics) tensor, its row views, how many are filled
        self._act_buf: torch.Tensor | None = None
        self._act_cells: list[torch.Tensor] = []
        self._act_fill = 0
        self._act_fast: bool | None = None
        # rows held back: a (rows, 3 * parameters) tensor, views of each row's cells, how many rows are filled
        self._buf: torch.Tensor | None = None
        self._cells: list[torch.Tensor] = []
        self._fill = 0
        self._held_steps: list[int] = []
        self._fast: bool | None = None  # None: not decided (first recorded step); False: the per-step path
        self._flat: _Flat | None = None
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
        self._buf, self._cells, self._fast, self._flat = None, [], None, None
        self._pending = {}
        self._act_buf, self._act_cells, self._act_fast = None, [], None

    @property
    def steps_seen(self) -> int:
        return self._count

    # -- hooks ------------------------------------------------------------------------
    def _due(self) -> bool:
        """Whether the coming optimizer step is one to record."""
        return self._count % self.every == 0

    def _pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        count = self._count
        self._count = count + 1
        self._active = active = count % self.every == 0  # (as _due, inline: this runs every step)
        if active and self.updates:
            before = self._before
            prev = torch.is_grad_enabled()
            _set_grad_enabled(False)  # torch.no_grad() without its Python objects
            try:
                if not before:
                    if self._fast is None:
                        self._fast = self._allocate()
                    before = self._before = self._before or [torch.empty_like(p) for p in self.params]
                torch._foreach_copy_(before, self.params)
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
            if self._fast is None:
                self._fast = self._allocate()
            grads = [p.grad for p in self.params]
            if not (self._fast and self._record_flat(grads)):
                self._record_slow(grads)
            if self.modules:
                self._flush_activations()
        finally:
            _set_grad_enabled(prev)

    def _allocate(self) -> bool:
        """The flat workspace and the row buffer, where the parameters allow (else False: the per-step path)."""
        if not self.params:
            return False
        flat = _Flat.build(self.params, self._norm_dtype, self.updates)
        if flat is None:
            return False
        self._flat = flat
        if self.updates:
            self._before = flat.before
        sets = flat.work.shape[0]
        rows = max(1, min(CHUNK, 4096 // len(flat.groups)))  # (row, group) views, made once: a few thousand
        self._buf = torch.full((rows, flat.width), float("nan"), dtype=flat.work.dtype)  # a spare column stays nan
        per_group = [self._buf[:, a:b].view(rows, sets, (b - a) // sets).unbind() for _, a, b in flat.groups]
        self._cells = list(zip(*per_group, strict=True))  # per row: its cell of each group
        self._fill = 0
        return True

    def _record_flat(self, grads: list[Any]) -> bool:
        """The norms through the workspace: gradients and parameters copied in (one foreach call), the
        update subtracted (one call), one vector_norm per group into the next row. False (a sparse
        gradient): the per-step path from now on."""
        flat = self._flat
        assert flat is not None
        fill = self._fill
        if fill == len(self._cells):
            self.hand_over()
            fill = 0
        if not flat.copy_in(grads, self.params):  # a sparse gradient
            return self._give_up()
        if flat.update is not None:
            flat.update[0].sub_(flat.update[1])  # before - after, as the per-tensor path computes it
        for mat, cell in zip(flat.mats, self._cells[fill]):
            torch.linalg.vector_norm(mat, dim=2, out=cell)
        self._fill = fill + 1
        self._held_steps.append(self._count)
        return True

    def _give_up(self) -> bool:
        self.hand_over()
        self._fast = False
        self._flat = None  # (the snapshot views stay in self._before for the per-step path)
        self._buf, self._cells = None, []
        return False

    def _record_slow(self, grads: list[Any]) -> None:
        """The per-step path (sparse gradients, parameters on an accelerator or of several devices or
        dtypes): one foreach norm for all, stacked, to floats now."""
        tensors = [g if g is not None else p.new_zeros(()) for g, p in zip(grads, self.params, strict=True)]
        tensors += self.params
        if self.updates:
            torch._foreach_sub_(self._before, self.params)  # before - after, in our own buffers
            tensors += self._before
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
        self._hand_over_activations()
        k = self._fill
        if not k:
            return
        assert self._buf is not None and self._flat is not None
        self._fill = 0
        steps, self._held_steps = self._held_steps, []
        rows = self._buf[:k].index_select(1, self._flat.order)  # layout order -> the record's columns
        self.history.add_steps(steps, rows.reshape(-1).tolist())

    def _activation_hook(self, name: str, module: torch.nn.Module) -> Any:
        kind = _act_stats(module)[-1]

        def hook(mod: Any, inputs: Any, output: Any) -> None:
            if self.paused or not self._due():
                return
            y = output[0] if isinstance(output, (tuple, list)) and output else output
            if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.numel() == 0:
                return
            prev = torch.is_grad_enabled()
            _set_grad_enabled(False)  # (no graph for these: y itself needs no detach)
            try:
                std, mean = torch.std_mean(y if y.dtype is torch.float32 else y.float(), correction=0)
                stats = [mean, std]
                if kind == "saturated":
                    if isinstance(mod, torch.nn.Sigmoid):
                        sat = torch.mean((y < 1 - SATURATION) | (y > SATURATION), dtype=torch.float32)
                    else:
                        sat = torch.mean(y.abs() > SATURATION, dtype=torch.float32)
                    stats.append(sat)
                elif kind == "zero":
                    stats.append(torch.mean(y == 0, dtype=torch.float32))
                self._pending[name] = stats  # the last forward before the step wins
            finally:
                _set_grad_enabled(prev)

        return hook

    def _flush_activations(self) -> None:
        """This step's activation statistics: stacked into the next row of a tensor (converted with the
        norms, in batches), or, where modules did not run or sit on several devices, to floats now."""
        pending, self._pending = self._pending, {}
        if len(pending) == len(self.modules) and self._act_fast is not False:
            flat = [t for n, _ in self.modules for t in pending[n]]
            if self._act_fill == len(self._act_cells):
                self._hand_over_activations()
                if self._act_buf is None:
                    self._act_buf = torch.empty((CHUNK, len(flat)), dtype=torch.float32, device=flat[0].device)
                    self._act_cells = list(self._act_buf.unbind())
            try:
                torch.stack(flat, out=self._act_cells[self._act_fill])
            except RuntimeError:  # statistics on several devices: to floats per step from now on
                self._act_fast = False
            else:
                self._act_fill += 1
                return
        self._hand_over_activations()  # rows held back first: the history keeps the steps in order
        order = [n for n, _ in self.modules if n in pending]
        flat = [t for n in order for t in pending[n]]
        values = torch.stack([t.to("cpu") for t in flat]).tolist() if flat else []
        self.history.add_activations(self._split(order, values))

    def _split(self, order: list[str], values: list[float]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        k = 0
        for n in order:
            size = len(self.history.activation_stats[n])
            out[n] = values[k:k + size]
            k += size
        return out

    def _hand_over_activations(self) -> None:
        k = self._act_fill
        if not k:
            return
        assert self._act_buf is not None
        self._act_fill = 0
        order = [n for n, _ in self.modules]
        for row in self._act_buf[:k].tolist():
            self.history.add_activations(self._split(order, row))

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


class _Flat:
    """The workspace of the fast path (CPU, up to :data:`FLAT_LIMIT` parameter elements). On a CPU a foreach
    call is one ATen call per tensor and a norm costs several copies, so rather than a norm per tensor
    and set (3 per parameter), the gradients, parameters and snapshots are copied into one zeroed tensor
    of shape (sets, elements) and the norms are taken as the rows of (sets, k, width) views: the
    parameters grouped by size, each in a row of its group's width (the rest of the row stays zero and
    adds nothing to the sum of squares), a group as wide as its largest tensor and merged while the
    padding stays under :data:`PAD_FREE` zeros (:func:`_groups`). A step is then one copy before it
    and, after it, one copy, one subtraction and one vector_norm per group (one for the lesson's nets).

    ``grads``, ``values``, ``before``: per parameter, its views there (shaped like it); ``groups``: per
    group, the (sets, k, width) view and the span of its norms in a row; ``order``: per record column
    (gradients, parameters, updates, in the optimizer's order), its column in a row."""

    def __init__(self, params: list[torch.Tensor], dtype: torch.dtype, updates: bool) -> None:
        sets = 3 if updates else 2
        n = len(params)
        groups = _groups([p.numel() for p in params])
        elements = sum(width * len(idxs) for width, idxs in groups)
        self.work = torch.zeros((sets, elements), dtype=dtype)
        views: list[list[Any]] = [[None] * n for _ in range(sets)]
        self.groups: list[tuple[torch.Tensor, int, int]] = []
        record_col = []  # per row column: the record column it holds
        offset = col = 0
        for width, idxs in groups:
            k = len(idxs)
            for s in range(sets):
                for j, i in enumerate(idxs):
                    start = offset + j * width
                    views[s][i] = self.work[s, start:start + params[i].numel()].view(params[i].shape)
                    record_col.append(s * n + i)
            self.groups.append((self.work[:, offset:offset + k * width].view(sets, k, width), col, col + sets * k))
            offset += k * width
            col += sets * k
        self.grads, self.values = views[0], views[1]
        self.both = views[0] + views[1]  # gradients and parameters: one copy call
        self.before = views[2] if updates else []
        self.update = (self.work[2], self.work[1]) if updates else None
        self.mats = [mat for mat, _, _ in self.groups]
        self.width = sets * n + (0 if updates else 1)  # without updates: one column left nan, for all of them
        order = torch.full((3 * n,), sets * n, dtype=torch.long)
        order[torch.tensor(record_col, dtype=torch.long)] = torch.arange(sets * n)
        self.order = order

    @classmethod
    def build(cls, params: list[torch.Tensor], norm_dtype: torch.dtype | None, updates: bool) -> _Flat | None:
        """The workspace, or None where the fast path does not apply (another device, a sparse or complex
        parameter, too many elements: there the per-tensor foreach calls are the better way)."""
        if not params or sum(p.numel() for p in params) > FLAT_LIMIT:
            return None
        if any(p.device.type != "cpu" or p.layout != torch.strided or not p.is_floating_point() for p in params):
            return None
        return cls(params, norm_dtype or params[0].dtype, updates)

    def copy_in(self, grads: list[Any], params: list[torch.Tensor]) -> bool:
        """Gradients (zero for a parameter without one) and parameters into the workspace; False for a
        sparse gradient."""
        try:
            try:
                torch._foreach_copy_(self.both, grads + params)
            except TypeError:  # a parameter without a gradient (None): zero there, the others copied
                have = [(v, g) for v, g in zip(self.grads, grads, strict=True) if g is not None]
                torch._foreach_zero_([v for v, g in zip(self.grads, grads, strict=True) if g is None])
                torch._foreach_copy_([v for v, _ in have] + self.values, [g for _, g in have] + params)
        except RuntimeError:  # copy_ between dense and sparse
            return False
        return True


def _groups(sizes: list[int]) -> list[tuple[int, list[int]]]:
    """Parameters (by index) grouped for the workspace: (row width, indices). Largest first; a tensor joins
    the group being filled while the group's padding stays within :data:`PAD_FREE` zeros (a reduction call
    costs about as much as summing a few thousand floats; more padding would cost large models compute)."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    groups: list[tuple[int, list[int]]] = []
    padding = 0
    for i in order:
        s = sizes[i]
        if groups:
            width, idxs = groups[-1]
            if padding + width - s <= PAD_FREE:
                idxs.append(i)
                padding += width - s
                continue
        groups.append((s, [i]))
        padding = 0
    for _, idxs in groups:
        idxs.sort()  # the optimizer's order within a group
    return groups


def watch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, every: int = 1, activations: bool = False,
          updates: bool = True, graph: bool = True, rank: int | None = 0, label: str | None = None,
          config: dict[str, Any] | None = None) -> Run:
    """Record a training run in your own loop; use as ``with gad.watch(model, optimizer) as run: ...``.

    every: record every N-th optimizer step; activations: also per leaf module the output's mean,
    std and saturated (Tanh/Sigmoid) or zero (ReLU) fraction; updates: keep a copy of the parameters
    to measure each update (off: no update norms, one copy of the parameters less: the watch holds one
    copy with updates on large models, three on a CPU up to FLAT_LIMIT elements, where copying the
    gradients and parameters into one workspace makes the norms one call); graph: keep the first batch to
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
