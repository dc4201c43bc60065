"""The Sweeps view: search fields of the experiment over ranges with Optuna, watch the trials
arrive, see which settings matter, and copy the best into the form."""
