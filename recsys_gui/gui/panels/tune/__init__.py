"""The Train page's Tune mode: a hyper-parameter search (core.tuning) driven and watched from the GUI."""
