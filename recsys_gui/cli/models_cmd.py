"""`recsys-gui models`: the registry with every hyper-parameter's default, range and help."""

from __future__ import annotations

import argparse

from recsys_gui.cli.common import print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("models", help="List the models and their settings.")
    p.add_argument("name", nargs="?", help="Show one model in detail.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.models import available_models, describe_model, get_model_class

    classes = [get_model_class(args.name)] if args.name else list(available_models().values())
    described = [describe_model(c) for c in classes]
    if args.json:
        print_json(described)
        return 0
    for d in described:
        alias = f" (aliases: {', '.join(d['aliases'])})" if d["aliases"] else ""
        print(f"{d['name']:<9} {d['family']:<11} {d['label']}{alias}\n          {d['description']}")
        for h in d["hyperparameters"]:
            rng = ""
            if h["choices"]:
                rng = f" one of {h['choices']}"
            elif h["min"] is not None or h["max"] is not None:
                rng = f" in [{h['min']}, {h['max']}]"
            print(f"            {h['name']} = {h['default']!r}{rng}: {h['help']}")
        if d["train_defaults"]:
            print("            trainer: " + ", ".join(f"{k}={v}" for k, v in d["train_defaults"].items()))
    return 0
