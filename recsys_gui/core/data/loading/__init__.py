"""Reading interaction files, in the order a load runs: sniffing, reading, converting, cleaning.

``recsys_gui.core.data.loaders`` is the public face; the modules here are its parts:
``options`` (what to read, what the sniffer found), ``sniffing`` and ``columns`` (separator,
header, column roles), ``reading`` (Arrow, encodings, line numbers), ``ids``, ``values`` and
``dates`` (converting ids, ratings and times), ``cleaning`` (missing, duplicates, threshold,
k-core), ``metadata`` (titles, genres), ``report`` and ``pipeline`` (the load end to end).
"""
