"""Reproducible bundles: a run as one zip (settings, data fingerprint, split ids, metrics, environment,
optionally its data and best checkpoint), and the re-training that checks it."""

from recsys_gui.core.bundle.archive import Bundle, BundleInfo, read_bundle, write_bundle
from recsys_gui.core.bundle.reproduce import DataFiles, Reproduction, reproduce_bundle

__all__ = [
    "Bundle",
    "BundleInfo",
    "DataFiles",
    "Reproduction",
    "read_bundle",
    "reproduce_bundle",
    "write_bundle",
]
