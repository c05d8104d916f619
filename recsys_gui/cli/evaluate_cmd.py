"""`recsys-gui evaluate RUN_ID`: re-evaluate a stored run's best model on its test part."""

from __future__ import annotations

import argparse

from recsys_gui.cli.common import add_workspace, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="Evaluate a stored run on its test (or validation) part.")
    p.add_argument("run_id")
    p.add_argument("--metrics", help="Comma-separated, e.g. ndcg@10,recall@20,auc (default: the run's).")
    p.add_argument("--part", choices=("test", "valid"), default="test")
    p.add_argument("--sampled", type=int, metavar="N",
                   help="Compatibility protocol: rank each test item against N sampled negatives "
                        "(NCF-era numbers; not comparable with full ranking).")
    p.add_argument("--device", default="auto")
    p.add_argument("--compare", metavar="RUN_ID", help="Paired t-test and Wilcoxon against another run.")
    p.add_argument("--allow-changed-data", action="store_true",
                   help="Go on when the run's data file changed since training (its split will differ).")
    p.add_argument("--json", action="store_true")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.run_evaluation import evaluate_run

    result = evaluate_run(args.workspace, args.run_id, metrics=args.metrics, part=args.part,
                          sampled_negatives=args.sampled, device=args.device, compare_with=args.compare,
                          allow_changed_data=args.allow_changed_data)
    if args.json:
        print_json(result)
        return 0
    print(f"run {result['run_id']} ({result['model']}), {result['part']}, {result['protocol']}, "
          f"{result['users']} users")
    for k, v in result["metrics"].items():
        print(f"  {k:<14} {v:.4f}")
    for k, v in result.get("by_activity", {}).items():
        print(f"  {k} users: " + ", ".join(f"{g} {d['mean']:.4f} (n={d['users']})" for g, d in v.items()))
    if "comparison" in result:
        for k, v in result["comparison"].items():
            print(f"  vs {args.compare} {k}: diff {v['mean_diff']:+.4f}, t-test p={v['t_p']:.3g}, "
                  f"Wilcoxon p={v['wilcoxon_p']:.3g}")
    return 0
