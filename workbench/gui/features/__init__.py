"""The Features view: what a meta-learned network has learned, against standard training."""
