"""Reading interaction files, in the order a load runs: sniffing, reading, converting, cleaning.

``recsys_gui.core.data.loaders`` is the public face; the modules here are its parts:
``options`` (what to read, what was found), ``sniffing``/``columns`` (separator, header, roles),
``reading`` (Arrow, encodings, line numbers), ``ids``/``ratings``/``times``/``dates`` (converting),
``cleaning`` (missing, duplicates, threshold, k-core), ``metadata``, ``report`` and ``pipeline``.
"""
