"""Render every page of the app to PNG files offscreen after a short real run (`recsys-gui screenshots`).

The command's arguments are parsed in ``recsys_gui.cli.screenshots_cmd``, which imports this module
only when the command runs: the CLI itself never imports Qt.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from recsys_gui.gui.main_window import PAGES


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    """Open the window at 1400×900, load ``args.data``, train, fill each page and save it as a PNG."""
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
        wait(lambda: win.state.data is not None or win.data_page.message.property("role") == "error",
             "the data")
        if win.state.data is None:
            raise RecsysError(f"could not load {data}: {win.data_page.message.text()}")
        wait(lambda: win.data_page.split_summary.text().startswith("Parts") or
             win.data_page.leak.property("role") == "error", "the split preview")
        ended = ("completed", "early_stopped", "cancelled", "failed")
        # a popularity baseline first, so Compare has two runs and Train shows the real model's curves
        win.model_page.select_model("pop")
        if win.train_page.start():
            wait(lambda: win.train_page.status in ended, "the baseline")
        say(f"training {args.model} for {args.epochs} epochs")
        win.model_page.select_model(args.model)
        win.model_page.train_form.set_values({"epochs": args.epochs, "log_every_n_steps": 1})
        win.go("Train")
        win.train_page.status = "idle"
        if not win.train_page.start():
            raise RecsysError("could not start training: " + win.train_page.message.text())
        wait(lambda: win.train_page.status in ended, "training")
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
        # What-if: the first user's history as the basket, the run's list with its reasons
        win.go("What-if")
        whatif = win.whatif_page
        whatif.picker.select(run_id)
        whatif.user_edit.setText(first_user)
        whatif.start_from_user()
        wait(lambda: bool(whatif.columns()) and bool(whatif.columns()[0].rows()), "the what-if list")
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
