"""The Qt layer: the only package that imports Qt. It edits configs, runs the engine in worker
threads and draws what the engine reports."""
