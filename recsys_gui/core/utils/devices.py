"""Which devices are really present, and turning a user's choice into a torch device."""

from __future__ import annotations

import torch

from recsys_gui.core.errors import DeviceError


def available_devices() -> list[str]:
    """Device names the user may pick: 'auto', 'cpu', then each CUDA GPU and MPS when present."""
    out = ["auto", "cpu"]
    try:
        if torch.cuda.is_available():
            out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not break the app; CPU still works
        pass
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when usable, else CPU; an explicit device that is absent is a clear error."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        try:
            if torch.cuda.is_available():
                return torch.device("cuda")
        except Exception:
            pass
        return torch.device("cpu")
    if name.startswith("cuda"):
        try:
            ok = torch.cuda.is_available()
        except Exception as exc:
            raise DeviceError(f"CUDA is installed but not usable ({exc}). Use --device cpu.") from None
        if not ok:
            raise DeviceError(
                "CUDA was requested but no CUDA GPU is available to PyTorch on this machine "
                f"(torch {torch.__version__}). Use --device cpu, or install a CUDA build of "
                "torch (see the README)."
            )
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{name} was requested but only {torch.cuda.device_count()} GPU(s) are present."
            )
        return dev
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("MPS (Apple GPU) was requested but is not available. Use --device cpu.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"Unknown device '{name}'. Choose one of: {', '.join(available_devices())}.")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    return "CPU" if device.type == "cpu" else device.type.upper()
