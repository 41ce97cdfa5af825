"""Learning-rate schedules: linear warm-up then inverse square-root decay."""

from __future__ import annotations

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
