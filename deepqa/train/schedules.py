"""Learning-rate schedules: linear warm-up, then an inverse square-root decay or a linear decay to zero at the
end of training."""

from __future__ import annotations

import math

import keras
from keras import ops


class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """``peak × min(step / warmup, sqrt(warmup / step))``: rises linearly, then decays as 1/√step."""

    def __init__(self, peak: float, warmup_steps: int):
        self.peak = peak
        self.warmup_steps = max(1, warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak * ops.minimum(step / warmup, ops.sqrt(warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``peak × min(step / warmup, (horizon − step) / (horizon − warmup))``, never below zero: rises linearly,
    then falls linearly to zero at step ``horizon``, the expected end of training.

    The horizon is a variable, so that training can move it while it runs (``set_horizon``): a run with a time
    limit learns how many steps fit into it only from the speed of its first epochs."""

    def __init__(self, peak: float, warmup_steps: int, horizon: int):
        self.peak = peak
        self.warmup_steps = max(1, warmup_steps)
        self.horizon = keras.Variable(float(max(horizon, self.warmup_steps + 1)), dtype="float32",
                                      trainable=False, name="schedule_horizon")

    def set_horizon(self, steps: int) -> None:
        """End the decay at step ``steps`` (at least one step past the warm-up)."""
        self.horizon.assign(float(max(steps, self.warmup_steps + 1)))

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        decay = (self.horizon - step) / (self.horizon - warmup)
        return self.peak * ops.maximum(ops.minimum(step / warmup, decay), 0.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "horizon": int(keras.ops.convert_to_numpy(self.horizon))}


def expected_epochs(done: int, planned: int, elapsed: float, mean_epoch: float, longest_epoch: float,
                    budget_seconds: float) -> int:
    """How many epochs a run will have finished when it ends: ``planned``, or fewer under a time limit, where
    no epoch starts that would likely end after ``budget_seconds`` (``elapsed + longest_epoch`` past it), and
    each further epoch takes ``mean_epoch`` seconds."""
    if not budget_seconds or mean_epoch <= 0:
        return planned
    room = budget_seconds - longest_epoch - elapsed
    more = math.floor(room / mean_epoch) + 1 if room >= 0 else 0
    return min(planned, done + more)
