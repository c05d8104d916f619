"""Regenerate the synthetic sample data in this folder: `python sample_data/make_synthetic.py [--seed S]`.

A thin wrapper around recsys_gui.core.data.synthetic (the same as `recsys-gui sample-data`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_gui.core.data.synthetic import write_sample_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, path in write_sample_data(args.out, seed=args.seed, overwrite=True).items():
        print(f"{name:13s} {path}")


if __name__ == "__main__":
    main()
