"""Compare page: every run in the workspace, sortable and filterable; curves, bars, trade-off, tests.

Select runs in the table: their validation and loss curves are overlaid, their test metrics at a
chosen K are drawn as grouped bars, and accuracy is plotted against catalogue coverage. A paired
significance test (t-test and Wilcoxon, per user, via the core's ``compare_runs``) between the
first two selected runs ends in a sentence a non-statistician can act on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.plots.axes import show_grid
from recsys_gui.gui.plots.live_curves import PALETTE
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.qtmodels.runs_model import RunsModel, SortRole
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, WhenShown, title

ALPHA = 0.05
BAR_METRICS = ("ndcg", "recall", "precision", "hit", "mrr", "map", "coverage", "gini", "ild")
LINE_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)


def run_label(row: dict[str, Any]) -> str:
    """Short name for legends: model and the tail of the run's name."""
    name = str(row.get("name") or row["id"])
    return (
        f"{row['model']} · {name[-6:]}"
        if name.startswith(tuple("0123456789"))
        else f"{row['model']} · {name}"
    )


def verdict(metric: str, name_a: str, name_b: str, t: dict[str, Any], alpha: float = ALPHA) -> str:
    """A plain-language reading of one paired test (``t`` from core paired_tests: a minus b)."""
    a, b = t["mean_a"], t["mean_b"]
    diff = b - a
    rel = f" ({diff / a:+.0%})" if a else ""
    ps = f"paired t-test p = {t['t_p']:.3g}, Wilcoxon p = {t['wilcoxon_p']:.3g}, {t['users']:,} users"
    both, one = t["t_p"] < alpha and t["wilcoxon_p"] < alpha, t["t_p"] < alpha or t["wilcoxon_p"] < alpha
    if diff == 0 or not one:
        return (
            f"No reliable difference on {metric}: {name_a} {a:.4f} vs {name_b} {b:.4f}. A gap this size "
            f"could easily be chance on these users ({ps})."
        )
    better, worse = (name_b, name_a) if diff > 0 else (name_a, name_b)
    if both:
        return (
            f"{better} is better than {worse} on {metric}: {b:.4f} vs {a:.4f}{rel}. Both tests say this "
            f"is unlikely to be chance ({ps})."
        )
    return (
        f"{better} looks better than {worse} on {metric} ({b:.4f} vs {a:.4f}{rel}), but only one of the "
        f"two tests agrees ({ps}); treat it as a hint, not a result."
    )


class RunsFilter(QSortFilterProxyModel):
    """Sorts by raw values; the filter text must appear in one of the text columns (any case)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)


class ComparePanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tests: dict[str, Any] = {}
        self.significance_result: dict[str, Any] | None = None
        self.curves: dict[str, list[dict[str, Any]]] = {}
        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "Compare",
                "Every run in the workspace. Select runs (Ctrl/Shift-click) to overlay "
                "their curves, compare their metrics, and test whether a difference is real.",
            )
        )
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter runs: model, name, status, split…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(320)
        bar.addWidget(self.filter_edit)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(state.refresh_runs)
        self.compare_btn = QPushButton("Compare selected")
        self.compare_btn.setProperty("primary", True)
        self.compare_btn.clicked.connect(self.compare)
        self.delete_btn = QPushButton("Delete run…")
        self.delete_btn.clicked.connect(self.delete_selected)
        for w in (self.refresh_btn, self.compare_btn, self.delete_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "hint")
        bar.addWidget(self.count_label)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Vertical)
        self.runs_model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.runs_model)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self._open_run)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        split.addWidget(self.table)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._curves_tab(), "Curves")
        self.tabs.addTab(self._bars_tab(), "Metrics at K")
        self.tabs.addTab(self._tradeoff_tab(), "Accuracy vs coverage")
        self.tabs.addTab(self._significance_tab(), "Significance")
        split.addWidget(self.tabs)
        split.setSizes([300, 480])
        root.addWidget(split, 1)
        state.runs_changed.connect(WhenShown(self, self._runs_changed))
        self._runs_changed()

    # --- layout of the tabs ----------------------------------------------------------------------
    def _curves_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        row.addWidget(QLabel("Validation metric"))
        self.curve_metric = QComboBox()
        self.curve_metric.currentIndexChanged.connect(self._draw_curves)
        row.addWidget(self.curve_metric)
        row.addStretch(1)
        lay.addLayout(row)
        plots = QSplitter(Qt.Orientation.Horizontal)
        self.valid_plot = self._plot("Validation metric per epoch", "epoch")
        # losses fall: their legend goes top right, where the curves are not
        self.loss_plot = self._plot("Training loss per epoch", "epoch", legend=(-10, 10))
        plots.addWidget(self.valid_plot)
        plots.addWidget(self.loss_plot)
        lay.addWidget(plots, 1)
        return w

    def _bars_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        row.addWidget(QLabel("K"))
        self.bar_k = QComboBox()
        self.bar_k.currentIndexChanged.connect(self._draw_bars)
        row.addWidget(self.bar_k)
        row.addStretch(1)
        lay.addLayout(row)
        sp = QSplitter(Qt.Orientation.Horizontal)
        self.bar_plot = self._plot("Test metrics at K", "")
        sp.addWidget(self.bar_plot)
        self.side_model = FrameModel()
        self.side_view = QTableView()
        self.side_view.setModel(self.side_model)
        self.side_view.verticalHeader().setVisible(False)
        self.side_view.setAlternatingRowColors(True)
        sp.addWidget(self.side_view)
        sp.setSizes([700, 420])
        lay.addWidget(sp, 1)
        return w

    def _tradeoff_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        row.addWidget(QLabel("Accuracy metric"))
        self.trade_metric = QComboBox()
        self.trade_metric.currentIndexChanged.connect(self._draw_tradeoff)
        row.addWidget(self.trade_metric)
        hint = QLabel(
            "Every run in the table; selected runs are labelled. Up and to the right is better: "
            "accurate lists that use more of the catalogue."
        )
        hint.setProperty("role", "hint")
        row.addWidget(hint, 1)
        lay.addLayout(row)
        self.trade_plot = self._plot("Accuracy against catalogue coverage", "coverage")
        self.trade_plot.getPlotItem().getViewBox().setDefaultPadding(0.12)  # room for the labels
        lay.addWidget(self.trade_plot, 1)
        return w

    def _significance_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        self.signif_btn = QPushButton("Paired significance test")
        self.signif_btn.setToolTip(
            "Re-evaluates both runs per user (in the background) and runs a paired "
            "t-test and a Wilcoxon signed-rank test on every ranking metric."
        )
        self.signif_btn.clicked.connect(self.significance)
        row.addWidget(self.signif_btn)
        row.addWidget(QLabel("Verdict for"))
        self.sig_metric = QComboBox()
        self.sig_metric.currentIndexChanged.connect(self._show_verdict)
        row.addWidget(self.sig_metric)
        self.sig_pair = QLabel("Select two runs trained on the same split: the first is the reference.")
        self.sig_pair.setProperty("role", "hint")
        row.addWidget(self.sig_pair, 1)
        lay.addLayout(row)
        self.verdict_label = QLabel("")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict_label.setObjectName("verdict")
        lay.addWidget(self.verdict_label)
        self.sig_model = FrameModel()
        self.sig_view = QTableView()
        self.sig_view.setModel(self.sig_model)
        self.sig_view.verticalHeader().setVisible(False)
        self.sig_view.setAlternatingRowColors(True)
        lay.addWidget(self.sig_view, 1)
        self.sig_note = QLabel(
            f"p < {ALPHA} means a difference this large would rarely appear by chance on "
            "these users. Both runs must use the same split (same data, protocol and seed)."
        )
        self.sig_note.setProperty("role", "hint")
        self.sig_note.setWordWrap(True)
        lay.addWidget(self.sig_note)
        return w

    @staticmethod
    def _plot(title_text: str, x_label: str, legend: tuple[int, int] = (10, 10)) -> pg.PlotWidget:
        p = pg.PlotWidget(title=title_text)
        if x_label:
            p.setLabel("bottom", x_label)
        show_grid(p, 0.2)
        p.setMenuEnabled(False)
        p.getPlotItem().hideButtons()
        for axis in ("bottom", "left"):
            p.getAxis(axis).enableAutoSIPrefix(False)
        p.addLegend(offset=legend, labelTextSize="8pt")
        return p

    # --- table -----------------------------------------------------------------------------------
    def _runs_changed(self) -> None:
        keep = self.selected_ids()
        self.runs_model.set_runs(self.state.runs)
        self.table.resizeColumnsToContents()
        if self.state.runs_error:
            self.message.error(self.state.runs_error)
        self.select_runs(keep)
        self._update_count()
        self._draw_tradeoff_metrics()

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()
        self._draw_tradeoff()

    def _update_count(self) -> None:
        n, total = self.proxy.rowCount(), self.runs_model.rowCount()
        self.count_label.setText(f"{n} of {total} runs" if n != total else f"{total} runs")

    def visible_run_ids(self) -> list[str]:
        """Run ids in the table as shown (filtered and sorted)."""
        out = []
        for r in range(self.proxy.rowCount()):
            rid = self.runs_model.run_id(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
            if rid:
                out.append(rid)
        return out

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        out = []
        for r in rows:
            rid = self.runs_model.run_id(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
            if rid:
                out.append(rid)
        return out

    def select_runs(self, run_ids: list[str]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        for rid in run_ids:
            r = self.runs_model.row_of(rid)
            if r >= 0:
                idx = self.proxy.mapFromSource(self.runs_model.index(r, 0))
                if idx.isValid():
                    sel.select(idx, sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def _open_run(self, index: Any) -> None:
        rid = self.runs_model.run_id(self.proxy.mapToSource(index).row())
        if rid:
            self.state.set_current_run(rid)

    def _rows(self, ids: list[str]) -> list[dict[str, Any]]:
        by_id = {r["id"]: r for r in self.state.runs}
        return [by_id[i] for i in ids if i in by_id]

    def _selection_changed(self, *_: Any) -> None:
        ids = self.selected_ids()
        if ids:
            self.compare(quiet=True)
        pair = self._rows(ids[:2])
        if len(pair) == 2:
            self.sig_pair.setText(f"Reference {run_label(pair[0])} against {run_label(pair[1])}.")

    # --- compare ---------------------------------------------------------------------------------
    def compare(self, quiet: bool = False) -> bool:
        """Side-by-side table, bars, trade-off plot and curves of the selected runs."""
        ids = self.selected_ids()
        if len(ids) < (1 if quiet else 2):
            if not quiet:
                self.message.error("Select at least two runs (Ctrl-click) to compare.")
            return False
        rows = self._rows(ids)
        keys: list[str] = []
        for r in rows:
            for k in r.get("test") or {}:
                if k not in keys:
                    keys.append(k)
        table: dict[str, list[Any]] = {"metric": keys}
        for r in rows:
            table[run_label(r)] = [(r.get("test") or {}).get(k) for k in keys]
        self.side_model.set_frame(pd.DataFrame(table))
        self.side_view.resizeColumnsToContents()
        ks = sorted({int(k.split("@")[1]) for k in keys if "@" in k})
        cur = self.bar_k.currentData()
        self.bar_k.blockSignals(True)
        self.bar_k.clear()
        for k in ks:
            self.bar_k.addItem(str(k), k)
        i = self.bar_k.findData(cur if cur in ks else (10 if 10 in ks else (ks[0] if ks else None)))
        self.bar_k.setCurrentIndex(max(i, 0))
        self.bar_k.blockSignals(False)
        self._draw_bars()
        self._draw_tradeoff()
        self._load_curves(ids)
        if not quiet:
            self.message.clear_message()
        return True

    def _draw_bars(self) -> None:
        p = self.bar_plot
        p.clear()
        rows = self._rows(self.selected_ids())
        k = self.bar_k.currentData()
        if not rows or k is None:
            return
        names = [f"{m}@{k}" for m in BAR_METRICS if any(f"{m}@{k}" in (r.get("test") or {}) for r in rows)]
        width = 0.8 / len(rows)
        for j, r in enumerate(rows):
            vals = [float((r.get("test") or {}).get(n, np.nan)) for n in names]
            x = np.arange(len(names)) - 0.4 + width * (j + 0.5)
            colour = PALETTE[j % len(PALETTE)]
            p.addItem(
                pg.BarGraphItem(
                    x=x,
                    height=np.nan_to_num(vals),
                    width=width * 0.92,
                    brush=colour,
                    pen=None,
                    name=run_label(r),
                )
            )
        p.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        p.setTitle(f"Test metrics at K = {k}")

    def _draw_tradeoff_metrics(self) -> None:
        keys = self.runs_model.metric_names
        cands = [k for k in keys if k.split("@")[0] in ("ndcg", "recall", "precision", "hit", "mrr", "map")]
        cur = self.trade_metric.currentText()
        self.trade_metric.blockSignals(True)
        self.trade_metric.clear()
        self.trade_metric.addItems(cands)
        i = self.trade_metric.findText(cur if cur in cands else "ndcg@10")
        self.trade_metric.setCurrentIndex(max(i, 0))
        self.trade_metric.blockSignals(False)
        self._draw_tradeoff()

    def _draw_tradeoff(self) -> None:
        p = self.trade_plot
        p.clear()
        metric = self.trade_metric.currentText()
        if not metric:
            return
        k = metric.split("@")[1]
        selected = set(self.selected_ids())
        xs, ys, labels, sel = [], [], [], []
        for r in self._rows(self.visible_run_ids()):
            test = r.get("test") or {}
            cov = test.get(f"coverage@{k}")
            acc = test.get(metric)
            if cov is None or acc is None:
                continue
            xs.append(float(cov))
            ys.append(float(acc))
            labels.append(run_label(r))
            sel.append(r["id"] in selected)
        if not xs:
            return
        xs_a, ys_a, sel_a = np.array(xs), np.array(ys), np.array(sel)
        p.addItem(
            pg.ScatterPlotItem(
                x=xs_a[~sel_a], y=ys_a[~sel_a], size=9, pen=None, brush=pg.mkBrush(150, 150, 150, 160)
            )
        )
        for j, i in enumerate(np.flatnonzero(sel_a)):
            colour = PALETTE[j % len(PALETTE)]
            p.addItem(
                pg.ScatterPlotItem(x=[xs[i]], y=[ys[i]], size=13, pen=pg.mkPen("#222", width=1), brush=colour)
            )
            t = pg.TextItem(labels[i], anchor=(0, 1), color="#222")
            t.setPos(xs[i], ys[i])
            p.addItem(t)
        p.setLabel("bottom", f"coverage@{k} (share of the catalogue recommended)")
        p.setLabel("left", metric)

    # --- curves ----------------------------------------------------------------------------------
    def _load_curves(self, ids: list[str]) -> None:
        want = list(ids)
        run_in_thread(
            services.run_curves,
            self.state.workspace,
            want,
            on_result=lambda c: self._got_curves(want, c),
            on_error=self._failed,
        )

    def _got_curves(self, ids: list[str], curves: dict[str, list[dict[str, Any]]]) -> None:
        if ids != self.selected_ids():
            return
        self.curves = curves
        names: list[str] = []
        for rows in curves.values():
            for r in rows:
                if r["split"] == "valid" and r["name"] not in names:
                    names.append(r["name"])
        cur = self.curve_metric.currentText()
        self.curve_metric.blockSignals(True)
        self.curve_metric.clear()
        self.curve_metric.addItems(names)
        i = self.curve_metric.findText(cur if cur in names else "ndcg@10")
        self.curve_metric.setCurrentIndex(max(i, 0))
        self.curve_metric.blockSignals(False)
        self._draw_curves()

    def _draw_curves(self) -> None:
        self.valid_plot.clear()
        self.loss_plot.clear()
        metric = self.curve_metric.currentText()
        by_id = {r["id"]: r for r in self.state.runs}
        for j, (rid, rows) in enumerate(self.curves.items()):
            colour = PALETTE[j % len(PALETTE)]
            label = run_label(by_id[rid]) if rid in by_id else rid
            frame = pd.DataFrame(rows, columns=["epoch", "step", "split", "name", "value"])
            valid = frame[(frame["split"] == "valid") & (frame["name"] == metric)].sort_values("epoch")
            if len(valid):
                self.valid_plot.plot(
                    valid["epoch"].to_numpy() + 1,
                    valid["value"].to_numpy(dtype=float),
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    name=label,
                )
            train = frame[frame["split"] == "train"]
            for s, (key, part) in enumerate(train.groupby("name", sort=True)):
                part = part.sort_values("epoch")
                vals = part["value"].to_numpy(dtype=float)
                if not np.isfinite(vals).any():
                    continue
                self.loss_plot.plot(
                    part["epoch"].to_numpy() + 1,
                    vals,
                    name=f"{label} · {key}",
                    pen=pg.mkPen(colour, width=2, style=LINE_STYLES[s % len(LINE_STYLES)]),
                )
        self.valid_plot.setLabel("left", metric)

    # --- significance ----------------------------------------------------------------------------
    def significance(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2:
            self.message.error("Select two runs (Ctrl-click); the first is the reference.")
            return
        a, b = self._rows(ids[:2])
        if len(ids) > 2:
            self.message.warning(f"Testing the first two selected runs: {run_label(a)} and {run_label(b)}.")
        same = a.get("split") == b.get("split") and (a.get("data_fingerprint") or "") == (
            b.get("data_fingerprint") or ""
        )
        if not same:
            self.message.error(
                f"{run_label(a)} and {run_label(b)} were not trained on the same split "
                f"({a.get('split')} vs {b.get('split')}); a paired test needs the same test users."
            )
            return
        self.tabs.setCurrentIndex(3)
        self.signif_btn.setEnabled(False)
        self.verdict_label.setText("Evaluating both runs per user…")
        self.message.show_message("Running paired tests in the background…")
        run_in_thread(
            services.paired_significance,
            self.state.workspace,
            a["id"],
            b["id"],
            on_result=self._got_tests,
            on_error=self._failed,
            on_finished=lambda: self.signif_btn.setEnabled(True),
        )

    def _got_tests(self, res: dict[str, Any]) -> None:
        self.significance_result = res
        self.tests = res["comparison"]
        rows = []
        for metric, t in self.tests.items():
            rows.append(
                {
                    "metric": metric,
                    "reference": t["mean_a"],
                    "other": t["mean_b"],
                    "other − reference": -t["mean_diff"],
                    "t-test p": t["t_p"],
                    "Wilcoxon p": t["wilcoxon_p"],
                    "users": t["users"],
                    "significant": bool(t["t_p"] < ALPHA and t["wilcoxon_p"] < ALPHA),
                }
            )
        frame = pd.DataFrame(rows)
        self.sig_model.set_frame(frame, highlight=frame["significant"].to_numpy() if len(frame) else None)
        self.sig_view.resizeColumnsToContents()
        cur = self.sig_metric.currentText()
        self.sig_metric.blockSignals(True)
        self.sig_metric.clear()
        self.sig_metric.addItems(list(self.tests))
        i = self.sig_metric.findText(cur if cur in self.tests else "ndcg@10")
        self.sig_metric.setCurrentIndex(max(i, 0))
        self.sig_metric.blockSignals(False)
        self._show_verdict()
        self.message.ok("Paired tests done.")

    def _show_verdict(self) -> None:
        res = self.significance_result
        metric = self.sig_metric.currentText()
        if not res or metric not in self.tests:
            return
        by_id = {r["id"]: r for r in self.state.runs}
        na = run_label(by_id[res["run_a"]]) if res["run_a"] in by_id else res["run_a"]
        nb = run_label(by_id[res["run_b"]]) if res["run_b"] in by_id else res["run_b"]
        self.verdict_label.setText(verdict(metric, na, nb, self.tests[metric]))

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))
        if not self.signif_btn.isEnabled():
            self.verdict_label.setText("")

    # --- delete ----------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self.message.error("Select the runs to delete.")
            return
        ans = QMessageBox.question(
            self, "Delete runs", f"Delete {len(ids)} run(s) with their checkpoints? This cannot be undone."
        )
        if ans != QMessageBox.StandardButton.Yes:
            return

        run_in_thread(
            services.delete_runs,
            self.state.workspace,
            ids,
            on_result=lambda _: self.state.refresh_runs(),
            on_error=self._failed,
        )
