"""The CLI's stage settings: one value for every stage or `stage=value` pairs, defaults from
the environment as the README documents them, and every problem found before any work.

`--backend hf` sets every stage; `--backend layout=hf,ocr=embedded` sets those two and
leaves the others at the default (`PDF_ASSETS_BACKEND`, else `embedded`). The same holds for
`--device` (`PDF_ASSETS_DEVICE`, else `auto`), `--model` and `--batch-size`.
"""

from __future__ import annotations

import argparse

from pdf_assets.backends.registry import check_specs
from pdf_assets.core.config import STAGES, ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.defs.resources import StageConfig, default_backend, default_device


def per_stage(text: str | None, default: str, option: str) -> dict[str, str]:
    """Each stage's value: `text` alone for every stage, or `stage=value` pairs over `default`."""
    values = dict.fromkeys(STAGES, default)
    if not text:
        return values
    if "=" not in text:
        return dict.fromkeys(STAGES, text)
    for pair in text.split(","):
        stage, sep, value = pair.partition("=")
        stage = stage.strip()
        if not sep or stage not in STAGES:
            raise ConfigError(
                f"{option} {text!r}: expected VALUE or STAGE=VALUE,... with STAGE one of {', '.join(STAGES)}"
            )
        values[stage] = value.strip()
    return values


def _batch_size(stage: str, text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"--batch-size for {stage}: {text!r} is not a positive whole number")
    return int(text)


def stage_configs(args: argparse.Namespace) -> dict[str, StageConfig]:
    """The four stages' settings from the command line and the environment."""
    backend = per_stage(args.backend, default_backend(), "--backend")
    device = per_stage(args.device, default_device(), "--device")
    model = per_stage(args.model, "", "--model")
    batch = per_stage(args.batch_size, "", "--batch-size")
    return {
        s: StageConfig(
            backend=backend[s], device=device[s], model=model[s] or None, batch_size=_batch_size(s, batch[s])
        )
        for s in STAGES
    }


def config_problems(configs: dict[str, StageConfig]) -> list[str]:
    """One line per setting that cannot work here (see `registry.check_specs`), empty if none."""
    problems: list[str] = []
    specs: list[ModelSpec] = []
    for stage, config in configs.items():
        try:
            specs.append(config.to_spec(stage))
        except ConfigError as exc:
            problems.append(f"{stage}: {exc}")
    return problems + check_specs(specs)
