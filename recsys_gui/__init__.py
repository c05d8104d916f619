"""RecSys Studio: train, evaluate and export recommender models from a desktop app or the CLI.

Importing the package is cheap: no torch, no Qt.
"""

__version__ = "0.1.0"
