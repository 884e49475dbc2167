"""Check evalkit.sequential's confidence sequence against the authors' reference implementation.

    .venv/bin/python benchmarks/sequential/crosscheck_confseq.py [--sdist confseq-0.0.11.tar.gz]

`confseq` (Howard & Waudby-Smith, PyPI 0.0.11, 2023) is not a dependency: it ships only as a source package
that compiles C++ (cmake, pybind11 2.6), pins pytest, matplotlib and multiprocess as run-time requirements,
and no longer imports under numpy 2 (`np.float_`). Its `predmix` module is plain Python, though, so this
script downloads the source package with pip (a few minutes: pip prepares its build metadata; or give one
already fetched with `pip download --no-deps confseq==0.0.11`), imports that module with two shims (numpy's removed alias, an
empty `multiprocess`), and compares `predmix_empbern_twosided_cs` with `evalkit.sequential` on random data,
i.i.d. and without replacement. evalkit adds two valid refinements on top (the without-replacement range
bounds and the running intersection), so the comparison is of the raw two sides.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

import numpy as np

from evalkit.sequential import _confseq


def main() -> int:
    parser = argparse.ArgumentParser(description="compare with confseq's predmix_empbern_twosided_cs")
    parser.add_argument("--sdist", type=Path, help="confseq-0.0.11.tar.gz (default: download it with pip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.sdist is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                            "confseq==0.0.11", "-d", tmp], check=True)
        archive = args.sdist or next(Path(tmp).glob("confseq-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        sys.path.insert(0, str(next(Path(tmp).glob("confseq-*/src"))))
        np.float_ = np.float64                                 # removed in numpy 2, still used by confseq
        sys.modules.setdefault("multiprocess", types.ModuleType("multiprocess"))
        from confseq.predmix import predmix_empbern_twosided_cs

        rng = np.random.default_rng(1)
        worst = 0.0
        for trial in range(24):
            n = int(rng.integers(5, 3000))
            z = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.1, 0.75, 0.15]) if trial % 2 else rng.uniform(size=n)
            population = None if trial % 3 == 0 else n + int(rng.integers(0, 500))
            low, high = predmix_empbern_twosided_cs(z, alpha=0.05, truncation=0.5, running_intersection=False,
                                                    N=population)
            ours_low = np.maximum(_confseq._lower(z, 0.025, population), 0)
            ours_high = 1 - np.maximum(_confseq._lower(1 - z, 0.025, population), 0)
            worst = max(worst, float(np.max(np.abs(low - ours_low))), float(np.max(np.abs(high - ours_high))))
        print(f"24 sequences (n 5..3000, i.i.d. and without replacement): largest difference {worst:.2e}")
        return 0 if worst < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
