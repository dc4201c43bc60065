"""Meta-Learning Workbench: train, inspect and demonstrate few-shot meta-learning."""

__version__ = "0.1.0"
