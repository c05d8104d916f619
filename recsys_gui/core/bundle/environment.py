"""The machine and the libraries a run was trained with, as a bundle records them.

Installed packages are listed from ``importlib.metadata`` (what ``pip freeze`` prints, without
starting pip in a subprocess, which a frozen app does not even have).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from recsys_gui import __version__


def environment() -> dict[str, Any]:
    """Python, the numeric libraries, CUDA and the devices of this process."""
    import numpy as np
    import pandas as pd
    import torch

    gpus: list[str] = []
    if torch.cuda.is_available():
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "recsys_gui": __version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "gpus": gpus,
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def cpu_model() -> str:
    """The processor's name: ``/proc/cpuinfo`` on Linux, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def installed_packages() -> list[str]:
    """``name==version`` of every installed distribution, sorted, one per name (as ``pip freeze``)."""
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return [seen[k] for k in sorted(seen)]


COMPARED = ("recsys_gui", "python", "torch", "numpy", "pandas", "cuda", "cpu", "gpus")


def differences(bundled: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between the bundled environment and this one, among what can change results."""
    return {
        k: (bundled.get(k), current.get(k))
        for k in COMPARED
        if k in bundled and bundled.get(k) != current.get(k)
    }
