"""The package's public surface: every name in __all__ resolves, and the command module stays light."""

from __future__ import annotations

import subprocess
import sys

from evalkit import sequential


def test_every_public_name_resolves():
    for name in sequential.__all__:
        assert getattr(sequential, name) is not None


def test_the_command_module_does_not_import_numpy_scipy_or_statsmodels():
    # `evalkit --help` imports the command module; the statistics load only when `evalkit plan` runs.
    code = ("import sys, evalkit.sequential.command; "
            "print(sorted(m for m in ('numpy', 'scipy', 'statsmodels') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
