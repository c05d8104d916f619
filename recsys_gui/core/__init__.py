"""The headless core: data, models, training, evaluation, export and the run store. Never imports Qt."""
