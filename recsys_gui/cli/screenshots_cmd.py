"""`recsys-gui screenshots OUT_DIR`: render every page of the app offscreen after a short real run.

Qt is imported inside the handler only: the CLI module itself stays Qt-free.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PAGES = ("Data", "Model", "Train", "Results", "Embeddings", "Compare", "Export")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("screenshots", help="Render every page of the app to PNG files (offscreen).",
                       description="Open the main window offscreen at 1400×900, load data, train a short "
                                   "real run, then save one PNG per page.")
    p.add_argument("out_dir", metavar="OUT_DIR", help="Folder for NN-page.png files.")
    p.add_argument("--data", metavar="FILE", help="Interaction file (default: sample_data/interactions.csv).")
    p.add_argument("--items", metavar="FILE", help="Item metadata file (default: items.csv beside the data).")
    p.add_argument("--model", default="mf", help="Model to train (default: mf).")
    p.add_argument("--epochs", type=int, default=4, help="Epochs of the short run (default: 4).")
    p.add_argument("--workspace", metavar="DIR", help="Workspace (default: a fresh temporary folder).")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--timeout", type=float, default=300.0, help="Seconds to wait for each step.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from recsys_gui.core.errors import RecsysError

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data is None:
        from recsys_gui.gui.app import bundled_sample

        sample = bundled_sample()
        if sample is None:
            raise RecsysError("No --data given and sample_data/interactions.csv is not present.")
        data = str(sample)
    if not Path(data).exists():
        raise RecsysError(f"{data}: no such file.")
    workspace = args.workspace or tempfile.mkdtemp(prefix="recsys-shots-")

    from recsys_gui.gui import theme
    from recsys_gui.gui.app import make_app
    from recsys_gui.gui.main_window import MainWindow
    from recsys_gui.gui.settings_io import SettingsFile

    app = make_app()
    theme.apply_theme(app, args.theme)
    settings = SettingsFile(Path(workspace) / "gui-settings.json")
    win = MainWindow(workspace=workspace, settings=settings)
    win.train_page.setProperty("quiet", True)
    win.resize(1400, 900)
    win.show()

    def wait(cond, what: str) -> None:
        end = time.monotonic() + args.timeout
        while not cond():
            app.processEvents()
            if time.monotonic() > end:
                raise RecsysError(f"screenshots: timed out waiting for {what}")
            time.sleep(0.01)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        say(f"loading {data}")
        win.open_data(data, metadata=args.items)
        wait(lambda: win.state.data is not None or win.data_page.message.property("role") == "error", "the data")
        if win.state.data is None:
            raise RecsysError(f"could not load {data}: {win.data_page.message.text()}")
        wait(lambda: win.data_page.split_summary.text().startswith("Parts") or
             win.data_page.leak.property("role") == "error", "the split preview")
        # a popularity baseline first, so Compare has two runs and Train shows the real model's curves
        win.model_page.select_model("pop")
        if win.train_page.start():
            wait(lambda: win.train_page.status in ("completed", "early_stopped", "cancelled", "failed"),
                 "the baseline")
        say(f"training {args.model} for {args.epochs} epochs")
        win.model_page.select_model(args.model)
        win.model_page.train_form.set_values({"epochs": args.epochs, "log_every_n_steps": 1})
        win.go("Train")
        win.train_page.status = "idle"
        if not win.train_page.start():
            raise RecsysError("could not start training: " + win.train_page.message.text())
        wait(lambda: win.train_page.status in ("completed", "early_stopped", "cancelled", "failed"), "training")
        if win.train_page.status == "failed":
            raise RecsysError("training failed: " + win.train_page.message.text())
        run_id = (win.train_page.last_summary or {}).get("run_id")
        wait(lambda: any(r["id"] == run_id for r in win.state.runs), "the run list")
        say(f"run {run_id} {win.train_page.status}; filling the pages")
        win.train_page.flush_plots()
        # Each page is shown before it is used, as a user would (hidden pages refresh when shown).
        # Results: metric vs K and one user
        win.go("Results")
        win.results_page.picker.select(run_id)
        win.results_page.show_run(run_id)
        win.results_page.evaluate_k()
        wait(lambda: win.results_page.eval_btn.isEnabled(), "metric against K")
        first_user = str(win.state.data.user_ids[0])
        win.results_page.user_edit.setText(first_user)
        win.results_page.inspect()
        wait(lambda: win.results_page.inspect_btn.isEnabled(), "the user inspector")
        # Embeddings
        win.go("Embeddings")
        win.embeddings_page.picker.select(run_id)
        win.embeddings_page.project()
        wait(lambda: win.embeddings_page.project_btn.isEnabled(), "the embedding projection")
        wait(lambda: len(win.state.runs) >= 2, "the run list")
        win.go("Compare")
        win.compare_page.select_runs([r["id"] for r in win.state.runs[:2]])
        win.compare_page.compare()
        # Export: a real CSV export into the workspace
        win.go("Export")
        win.export_page.picker.select(run_id)
        idx = win.export_page.fmt.findData("csv")
        win.export_page.fmt.setCurrentIndex(idx)
        win.export_page.rec_path.setText(str(Path(workspace) / "exports" / "recommendations.csv"))
        win.export_page.export_recommendations(confirm=False)
        wait(lambda: win.export_page.task is None, "the export")
        win.model_page.select_model(args.model)
        written = []
        for i, name in enumerate(PAGES, start=1):
            win.go(name)
            for _ in range(5):
                app.processEvents()
            win.train_page.flush_plots()
            path = out / f"{i:02d}-{name.lower()}.png"
            if not win.grab().save(str(path)):
                raise RecsysError(f"could not write {path}")
            written.append(path)
            print(path, flush=True)
        # the data page's statistics tab: the plots an analyst checks before training
        win.go("Data")
        win.data_page.tabs.setCurrentIndex(1)
        for _ in range(5):
            app.processEvents()
        path = out / f"{len(PAGES) + 1:02d}-data-statistics.png"
        if not win.grab().save(str(path)):
            raise RecsysError(f"could not write {path}")
        written.append(path)
        print(path, flush=True)
    finally:
        win.close()
        app.processEvents()
    say(f"{len(written)} screenshots in {out}")
    return 0
