"""Reading interaction files, in the order a load runs: sniffing, reading, converting, cleaning.

``recsys_gui.core.data.loaders`` is the public face; the modules here are its parts:
``options`` (what to read, what the sniffer found), ``sniffing`` and ``columns`` (separator,
header, column roles), ``streams`` (plain or compressed text), ``sources`` (Parquet files and
folders, SQLite, Excel), ``reading`` (Arrow, encodings, line numbers), ``sampling``
(--sample-users), ``ids``, ``values`` and ``dates`` (converting ids, ratings and times),
``arrays`` (where the big arrays live), ``cleaning`` (missing, duplicates, threshold, k-core),
``metadata`` (titles, genres), ``report`` and ``pipeline`` (the load end to end).
"""
