"""The Qt layer: the only package that imports Qt. It edits configs, runs the engine in worker
threads and draws what the engine reports."""

#: the window title and the name dialogs use (defined here, below every module that shows it)
APP_NAME = "Meta-Learning Workbench"
