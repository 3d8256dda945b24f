"""planners: sampling-based MPC over batched world-model rollouts."""
