"""Hyper-parameter search (Optuna) and repeated seeds, both on the one training seam.

It trains through ``session.run_training`` and reads the run store, so it sits above the session.
``space`` derives what to search, ``pruning`` stops unpromising trials, ``studies`` keeps searches
resumable beside the store, ``search`` runs one, ``seeds`` repeats a run over seeds.
"""
