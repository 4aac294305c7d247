"""Process-wide model cache: each (stage, backend, model, revision, device, dtype) loads once.

Loading is lazy (first use, never at import time) and guarded by a lock so two assets of
one run never load the same weights twice. Backend families are imported only when
selected, so the embedded default never imports torch.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable
from functools import partial
from typing import Protocol

from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError, DeviceUnavailableError
from pdf_assets.core.model import BatchModel

logger = logging.getLogger(__name__)

AnyModel = BatchModel[object, object, object, object]

_FAMILIES = {
    "embedded": "pdf_assets.backends.embedded",
    "hf": "pdf_assets.backends.hf",
    "fake": "pdf_assets.backends.fake",
}
_CACHE: dict[ModelSpec, list[AnyModel]] = {}
_LOCK = threading.Lock()


class _Family(Protocol):
    def devices_for(self, spec: ModelSpec) -> list[str]: ...

    def load(self, spec: ModelSpec, device: str) -> AnyModel: ...


def _family(backend: str) -> _Family:
    if backend not in _FAMILIES:
        raise ConfigError(f"unknown backend {backend!r}; expected one of {sorted(_FAMILIES)}")
    module: _Family = importlib.import_module(_FAMILIES[backend])
    return module


def check_specs(specs: Iterable[ModelSpec]) -> list[str]:
    """One line per stage setting that cannot work on this machine (an unknown backend, a
    malformed device, CUDA asked for where there is none, torch missing for the hf family),
    found before any page renders or any model loads: a bad setting of the last stage would
    otherwise fail only after every stage before it had run."""
    problems: list[str] = []
    for spec in specs:
        try:
            _family(spec.backend).devices_for(spec)
        except (ConfigError, DeviceUnavailableError) as exc:
            problems.append(f"{spec.stage}: {exc}")
        except ImportError as exc:
            problems.append(f"{spec.stage}: backend {spec.backend!r} cannot be imported here ({exc})")
    return problems


def load_models(spec: ModelSpec) -> list[AnyModel]:
    """One loaded replica per device of `spec.device` (several only for `cuda:all`)."""
    with _LOCK:
        cached = _CACHE.get(spec)
        if cached is not None:
            return cached
        family = _family(spec.backend)
        devices = family.devices_for(spec)
        logger.info("loading %s/%s (%s) on %s", spec.stage, spec.backend, spec.model or "default", devices)
        if len(devices) > 1 and spec.backend == "hf":
            # One worker process per GPU: threads of one interpreter do not scale (GIL).
            from pdf_assets.backends.process_replica import ProcessReplica, replica_cpu_threads

            threads = replica_cpu_threads(len(devices))
            models: list[AnyModel] = [ProcessReplica(partial(load_one, spec, d), threads) for d in devices]  # type: ignore[misc]
        else:
            models = [family.load(spec, device) for device in devices]
        _CACHE[spec] = models
        return models


def load_one(spec: ModelSpec, device: str) -> AnyModel:
    """Load one replica in this process (also the entry point of replica worker processes)."""
    return _family(spec.backend).load(spec, device)


def register_models(spec: ModelSpec, models: list[AnyModel]) -> None:
    """Put already-built replicas in the cache under `spec` (e.g. reference-size models built
    from configs for benchmarks), so stages that ask for `spec` use them."""
    with _LOCK:
        _CACHE[spec] = list(models)


def clear_cache() -> None:
    """Forget loaded models (tests; freeing memory between benchmark configurations)."""
    with _LOCK:
        for models in _CACHE.values():
            for model in models:
                close = getattr(model, "close", None)
                if callable(close):
                    close()
        _CACHE.clear()
