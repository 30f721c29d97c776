"""Optimizers from scratch (d2l chapter 12) as ``torch.optim.Optimizer`` subclasses, and the 2-D demo.

Learning-rate schedules live with the trainer in :mod:`seqkit.train.schedules`.
"""

from seqkit.optim.optimizers import OPTIMIZERS, SGD, AdaDelta, AdaGrad, Adam, Momentum, RMSProp, Yogi
from seqkit.optim.trajectory import f_2d, plot_trajectory_2d, trajectory_2d

__all__ = ["OPTIMIZERS", "SGD", "Momentum", "AdaGrad", "RMSProp", "AdaDelta", "Adam", "Yogi",
           "trajectory_2d", "plot_trajectory_2d", "f_2d"]
