"""The `--ray [ADDRESS]` option of `evalkit run`: where the run's model calls are made.

Light at import (argparse only), as every command module must be: Ray and the executor are imported when a run
asks for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.distributed._executor import RayExecutor

__all__ = ["add_run_options", "executor_for"]


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Add `--ray [ADDRESS]` to the `run` subcommand."""
    run.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="make the model calls (judge calls included) on a Ray cluster: ADDRESS is 'auto', "
                          "HOST:PORT or ray://HOST:PORT (default: [ray] address in evalkit.toml, else a local "
                          "cluster for this run); needs the `ray` extra; see docs/scale-out.md")


def executor_for(address: str | None, table: Mapping[str, Any] | None, *, where: str,
                 notify: Callable[[str], None] | None = None) -> RayExecutor | None:
    """The RayExecutor for `--ray ADDRESS` (None: the option was not given) with the config's `[ray]` table.

    `address` is the option's value ("" when given without one); `where` names the config file for errors.
    Nothing connects here: the executor joins the cluster on the run's first cache miss.
    """
    if address is None:
        return None
    from evalkit.distributed._executor import RayExecutor
    from evalkit.distributed._ray import import_ray
    from evalkit.distributed._settings import RaySettings

    settings = RaySettings.from_table(table or {}, where=where).with_address(address or None)
    import_ray()  # a missing extra is one line now, before any run folder exists
    return RayExecutor(settings, notify=notify)
