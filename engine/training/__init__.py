"""Training a world model of the engine's family (VAE, then action-conditioned DiT)."""

from .trainer import TrainConfig, Trainer

__all__ = ["TrainConfig", "Trainer"]
