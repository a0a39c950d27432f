"""Where the fan-out runs: in this process, on local workers, or on a Dask cluster, through joblib.

Backtests, per-series fits and the nightly job's per-pool work are independent tasks. They go through
:func:`fan_out`, which hands them to joblib; :func:`engine` chooses joblib's backend for a block of code:

- ``sequential``: one task after another in this process (the default; what tests compare against);
- ``threading`` / ``loky``: joblib's own thread or process pool on this machine (``workers`` of them);
- ``dask``: joblib's Dask backend on a ``distributed`` client: a scheduler at ``address`` (a cluster a team
  already runs, e.g. one from the Dask Kubernetes operator), or a ``LocalCluster`` of ``workers`` processes
  started for the block and closed after it.

The tasks and how the work is cut into them do not depend on the backend, and every task is a pure function of
its inputs, so the results are the same, bit for bit, on every backend.

Examples
--------
>>> from capforecast.compute import Compute, engine, fan_out
>>> with engine(Compute("threading", workers=2)):
...     fan_out(abs, [-1, -2, 3])
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from capforecast.errors import ConfigError

__all__ = ["BACKENDS", "Compute", "engine", "fan_out"]

BACKENDS = ("sequential", "threading", "loky", "dask")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Compute:
    """Which engine runs the fan-out.

    Parameters
    ----------
    backend : ``"sequential"``, ``"threading"``, ``"loky"`` or ``"dask"``.
    address : the Dask scheduler, e.g. ``"tcp://dask-scheduler:8786"`` (dask only; default: a ``LocalCluster``).
    workers : local workers (threads, processes or ``LocalCluster`` processes); default: every core.
    """

    backend: str = "sequential"
    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"compute backend {self.backend!r} is not one of {', '.join(BACKENDS)}; "
                              "e.g. --backend dask --scheduler tcp://dask-scheduler:8786")
        if self.address is not None and self.backend != "dask":
            raise ConfigError(f"a scheduler address ({self.address}) needs the dask backend; add --backend dask "
                              "(compute.backend: dask)")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ConfigError(f"compute workers must be a whole number >= 1, got {self.workers!r}")


def _client(compute: Compute) -> contextlib.AbstractContextManager[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("the dask backend needs dask's distributed scheduler: pip install 'capforecast[dask]' "
                          "(or choose --backend loky)") from None
    if compute.address is not None:
        try:
            return Client(compute.address, timeout="30s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {compute.address} ({exc}); check the address "
                              "(tcp://HOST:8786) and that the scheduler runs") from None
    stack = contextlib.ExitStack()
    cluster = stack.enter_context(LocalCluster(n_workers=compute.workers or None, threads_per_worker=1,
                                               processes=True, dashboard_address=":0", silence_logs=False))
    client = stack.enter_context(Client(cluster, set_as_default=False))

    @contextlib.contextmanager
    def both() -> Iterator[Any]:
        with stack:
            yield client

    return both()


@contextlib.contextmanager
def engine(compute: Compute | None) -> Iterator[Compute]:
    """Run :func:`fan_out` calls inside the block on ``compute``'s backend (``None``: leave joblib's as it is)."""
    if compute is None:
        yield Compute()
        return
    import joblib

    if compute.backend == "dask":
        with _client(compute) as client, client.as_current(), joblib.parallel_config(backend="dask", n_jobs=-1):
            yield compute
    elif compute.backend == "sequential":
        with joblib.parallel_config(backend="sequential", n_jobs=1):
            yield compute
    else:
        with joblib.parallel_config(backend=compute.backend, n_jobs=compute.workers or -1):
            yield compute


def fan_out(func: Callable[[T], R], items: Iterable[T], *, lazy: bool = False) -> Iterator[R] | list[R]:
    """``[func(item) for item in items]``, run by joblib's current backend (see :func:`engine`), in order.

    Outside :func:`engine`, a ``joblib.parallel_config`` set by the caller decides; by default the tasks run
    one after another in this process. ``lazy=True`` returns an iterator that yields each result, in order, as
    soon as it is done (consume it inside the :func:`engine` block).
    """
    tasks: Sequence[T] = list(items)
    if len(tasks) <= 1:
        done = (func(t) for t in tasks)
    else:
        from joblib import Parallel, delayed

        done = Parallel(return_as="generator")(delayed(func)(t) for t in tasks)
    return done if lazy else list(done)
