"""The Data page's "Source" box: what to read from a file, database or workbook, and how.

Every control here is a ``LoadOptions`` field the CLI has as a flag (--table, --query, --sheet,
--sep, --header/--no-header, --date-format, --sample-users, --sample-seed); the page passes them
to the same core loader. Two signals, because they cost differently: ``reopen`` when the columns
may change (another table, sheet, separator or header: the preview and column guesses are redone),
``reload`` when only the rows read change (sample, date format).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.errors import ConfigError

SEPARATOR_CHOICES = (("auto", None), ("comma  ,", ","), ("tab", "\t"), ("semicolon  ;", ";"),
                     ("pipe  |", "|"), ("double colon  ::", "::"), ("whitespace", "whitespace"))
HEADER_CHOICES = (("auto", None), ("first row holds names", True), ("no header row", False))
FORMAT_NAMES = {"text": "delimited text", "parquet": "Parquet", "sqlite": "SQLite database",
                "excel": "Excel workbook"}
SEPARATOR_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", "::": "double colon",
                   "whitespace": "whitespace"}


def sample_spec(text: str) -> float | None:
    """The sample field's value: empty = every user; else a share (0.35) or a count (10000), as
    --sample-users takes it (LoadOptions then checks the range)."""
    written = text.strip()
    text = written.replace("_", "").replace(" ", "")
    if not text:
        return None
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
            if 0 < share < 1:
                return share
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise ConfigError(f"cannot sample '{written}' users: give a share between 0 and 1 (0.35), "
                          "a percentage (35%) or a whole number of users (10000)") from None


class SourceBox(QGroupBox):
    reopen = Signal()  # the columns may change: preview and guess again, then load
    reload = Signal()  # only the rows read change: load again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self.format = "text"
        self.form = form = QFormLayout(self)
        self.kind = QLabel("—")
        self.kind.setObjectName("source_kind")
        self.kind.setWordWrap(True)
        form.addRow("Read as", self.kind)

        # SQLite: a table from the list, or a query
        self.use_table = QRadioButton("Table")
        self.use_query = QRadioButton("Query")
        self.use_table.setChecked(True)
        self._mode = QButtonGroup(self)
        self._mode.addButton(self.use_table)
        self._mode.addButton(self.use_query)
        self.table = QComboBox()
        self.table.setObjectName("source_table")
        self.table.setToolTip("The table or view of the database to read (--table).")
        self.table.currentIndexChanged.connect(lambda *_: self._table_chosen())
        self.use_table.toggled.connect(lambda on: on and self.table.count() and self._table_chosen())
        self.table_row = QWidget()
        tr = QHBoxLayout(self.table_row)
        tr.setContentsMargins(0, 0, 0, 0)
        tr.addWidget(self.use_table)
        tr.addWidget(self.table, 1)
        form.addRow("Database", self.table_row)
        self.query = QPlainTextEdit()
        self.query.setObjectName("source_query")
        self.query.setPlaceholderText("SELECT user_id, item_id, rating FROM events WHERE …")
        self.query.setToolTip("A SELECT giving one interaction per row (--query). The database is opened "
                              "read-only: a query cannot change it.")
        self.query.setFixedHeight(self.query.fontMetrics().lineSpacing() * 4 + 12)
        self.run_query = QPushButton("Run query")
        self.run_query.setEnabled(False)
        self.run_query.clicked.connect(self._query_run)
        self.query.textChanged.connect(self._query_edited)
        self.use_query.toggled.connect(lambda on: on and self._query_chosen())
        self.query_row = QWidget()
        qr = QVBoxLayout(self.query_row)
        qr.setContentsMargins(0, 0, 0, 0)
        qh = QHBoxLayout()
        qh.addWidget(self.use_query)
        qh.addStretch(1)
        qh.addWidget(self.run_query)
        qr.addLayout(qh)
        qr.addWidget(self.query)
        form.addRow("", self.query_row)

        self.sheet = QComboBox()
        self.sheet.setObjectName("source_sheet")
        self.sheet.setToolTip("The workbook's sheet to read (--sheet).")
        self.sheet.currentIndexChanged.connect(lambda *_: self.reopen.emit())
        form.addRow("Sheet", self.sheet)

        self.sep = QComboBox()
        self.sep.setObjectName("source_sep")
        for text, value in SEPARATOR_CHOICES:
            self.sep.addItem(text, value)
        self.sep.setToolTip("The column separator; auto = as the file shows (--sep).")
        self.sep.currentIndexChanged.connect(lambda *_: self.reopen.emit())
        form.addRow("Separator", self.sep)
        self.header = QComboBox()
        self.header.setObjectName("source_header")
        for text, value in HEADER_CHOICES:
            self.header.addItem(text, value)
        self.header.setToolTip("Whether the first row holds column names; auto = as the file shows "
                               "(--header / --no-header).")
        self.header.currentIndexChanged.connect(lambda *_: self.reopen.emit())
        form.addRow("Header", self.header)
        self.encoding = QLabel("—")
        self.encoding.setObjectName("source_encoding")
        self.encoding.setToolTip("The text encoding, found from the file's bytes (UTF-8, UTF-8 with a "
                                 "byte-order mark, or latin-1 when the bytes are not UTF-8).")
        form.addRow("Encoding", self.encoding)
        self.date_format = QLineEdit()
        self.date_format.setObjectName("source_date_format")
        self.date_format.setPlaceholderText("auto (e.g. %d.%m.%Y %H:%M)")
        self.date_format.setToolTip("How the time column's dates are written, as strptime writes it "
                                    "(--date-format); empty = day- or month-first as the values show.")
        self.date_format.editingFinished.connect(self._date_format_done)
        self._last_date_format = ""
        form.addRow("Date format", self.date_format)

        self.sample = QLineEdit()
        self.sample.setObjectName("source_sample")
        self.sample.setPlaceholderText("all users")
        self.sample.setToolTip("Read only a sample of whole users, taken while reading (--sample-users): "
                               "a share (0.1 or 10%) or a number of users (10000). For files too large "
                               "to load whole.")
        self.sample.editingFinished.connect(self._sample_done)
        self._last_sample = ""
        self.sample_seed = QSpinBox()
        self.sample_seed.setObjectName("source_sample_seed")
        self.sample_seed.setRange(0, 2**31 - 1)
        self.sample_seed.setPrefix("seed ")
        self.sample_seed.setMaximumWidth(130)
        self.sample_seed.setToolTip("Which users the sample takes; the same seed takes the same users "
                                    "(--sample-seed).")
        self.sample_seed.valueChanged.connect(lambda *_: self.sample.text().strip() and self.reload.emit())
        sr = QHBoxLayout()
        sr.addWidget(self.sample, 1)
        sr.addWidget(self.sample_seed)
        form.addRow("Sample users", sr)
        self.show_format("text")

    # --- what the file is --------------------------------------------------------------------------
    def reset(self) -> None:
        """A new file: its table, sheet, separator and header are guessed again."""
        self.blockSignals(True)
        try:
            for box in (self.table, self.sheet):
                box.clear()
            self.query.clear()
            self.use_table.setChecked(True)
            self.sep.setCurrentIndex(0)
            self.header.setCurrentIndex(0)
            self.kind.setText("—")
            self.encoding.setText("—")
        finally:
            self.blockSignals(False)

    def show_source(self, fmt: str, tables: list[str], sniffed: Any, options: dict[str, Any]) -> None:
        """Fill the controls from what the worker found: the tables or sheets to choose from, the
        one read, and what the sniffer guessed (shown beside the overrides, which stay on auto).
        ``options`` are those read with (a database's first table when none was chosen)."""
        self.show_format(fmt)
        self.blockSignals(True)  # filling the lists is no choice of the user's
        try:
            box = self.table if fmt == "sqlite" else self.sheet
            if fmt in ("sqlite", "excel"):
                before = box.currentText()  # kept on show while a query is read
                box.clear()
                box.addItems(tables)
                chosen = options.get("table" if fmt == "sqlite" else "sheet") or before
                if chosen in tables:
                    box.setCurrentIndex(tables.index(chosen))
            if fmt == "sqlite" and options.get("query"):
                self.use_query.setChecked(True)
        finally:
            self.blockSignals(False)
        parts = [FORMAT_NAMES.get(fmt, fmt)]
        if sniffed is None:  # the chosen table or sheet could not be read: the page says why
            self.kind.setText(parts[0])
            return
        if sniffed.compression:
            parts[0] += f" ({sniffed.compression}-compressed)"
        if fmt == "text":
            parts.append(f"separator: {SEPARATOR_NAMES.get(sniffed.sep, repr(sniffed.sep))}")
        if fmt in ("text", "excel"):
            parts.append("header row" if sniffed.header else "no header row")
        if fmt == "sqlite":
            parts.append("query" if sniffed.query else f"table '{sniffed.table}'")
        self.kind.setText(" · ".join(parts))
        self.encoding.setText(sniffed.encoding or "—")

    def show_format(self, fmt: str) -> None:
        """Only the controls that mean something for this kind of source."""
        self.format = fmt
        rows = {self.table_row: fmt == "sqlite", self.query_row: fmt == "sqlite", self.sheet: fmt == "excel",
                self.sep: fmt == "text", self.header: fmt in ("text", "excel"), self.encoding: fmt == "text"}
        for widget, visible in rows.items():
            self.form.setRowVisible(widget, visible)

    # --- the options ----------------------------------------------------------------------------------
    def source_options(self) -> dict[str, Any]:
        """LoadOptions fields that decide the columns: table or query, sheet, separator, header."""
        opts: dict[str, Any] = {}
        if self.format == "sqlite":
            if self.use_query.isChecked() and self.query.toPlainText().strip():
                opts["query"] = self.query.toPlainText().strip()
            elif self.table.currentText():
                opts["table"] = self.table.currentText()
        if self.format == "excel" and self.sheet.currentText():
            opts["sheet"] = self.sheet.currentText()
        if self.format == "text" and self.sep.currentData() is not None:
            opts["sep"] = self.sep.currentData()
        if self.format in ("text", "excel") and self.header.currentData() is not None:
            opts["header"] = self.header.currentData()
        return opts

    def read_options(self) -> dict[str, Any]:
        """LoadOptions fields that decide which rows are read and how: date format, user sample.
        Raises ConfigError with the sample field's problem."""
        opts: dict[str, Any] = {}
        if self.date_format.text().strip():
            opts["date_format"] = self.date_format.text().strip()
        share = sample_spec(self.sample.text())
        if share is not None:
            opts["sample_users"] = share
            opts["sample_seed"] = self.sample_seed.value()
        return opts

    def set_options(self, opts: dict[str, Any]) -> None:
        """Show stored options (a run's data): the parts this box owns."""
        self.blockSignals(True)
        try:
            if opts.get("query"):
                self.query.setPlainText(str(opts["query"]))
                self.use_query.setChecked(True)
            for box, key in ((self.sep, "sep"), (self.header, "header")):
                box.setCurrentIndex(max(0, box.findData(opts.get(key))) if opts.get(key) is not None else 0)
            self.date_format.setText(opts.get("date_format") or "")
            self._last_date_format = self.date_format.text()
            sample = opts.get("sample_users")
            self.sample.setText("" if sample is None else f"{float(sample):g}")
            self._last_sample = self.sample.text()
            self.sample_seed.setValue(int(opts.get("sample_seed", 0)))
        finally:
            self.blockSignals(False)

    # --- slots --------------------------------------------------------------------------------------
    def _table_chosen(self) -> None:
        if self.use_table.isChecked():
            self.reopen.emit()
        else:
            self.use_table.setChecked(True)  # its toggle comes back here

    def _query_edited(self) -> None:
        self.run_query.setEnabled(bool(self.query.toPlainText().strip()))

    def _query_chosen(self) -> None:
        """The Query button: read the query written, or go and write one."""
        if self.query.toPlainText().strip():
            self.reopen.emit()
        else:
            self.query.setFocus()

    def _query_run(self) -> None:
        if self.use_query.isChecked():
            self.reopen.emit()
        else:
            self.use_query.setChecked(True)  # its toggle comes back to read the query

    def _date_format_done(self) -> None:
        if self.date_format.text() != self._last_date_format:
            self._last_date_format = self.date_format.text()
            self.reload.emit()

    def _sample_done(self) -> None:
        if self.sample.text() != self._last_sample:
            self._last_sample = self.sample.text()
            self.reload.emit()
