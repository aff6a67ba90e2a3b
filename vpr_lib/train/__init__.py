"""Training: Lightning module, data module, losses/miners/optimizers by name, runs in the results store."""
