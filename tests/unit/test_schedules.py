"""The learning-rate schedules and the expected end of a time-limited run."""

import numpy as np
import pytest
from keras import ops

from deepqa.train.schedules import WarmupInverseSqrt, WarmupLinearDecay, expected_epochs


def rates(schedule, steps):
    return [float(ops.convert_to_numpy(schedule(step))) for step in steps]


def test_linear_decay_rises_to_its_peak_then_falls_to_zero_at_the_horizon():
    schedule = WarmupLinearDecay(1.0, warmup_steps=10, horizon=110)
    up, peak, half, end, past = rates(schedule, [4, 9, 59, 109, 200])
    assert up == pytest.approx(0.5) and peak == pytest.approx(1.0)
    assert half == pytest.approx(0.5) and end == pytest.approx(0.0) and past == 0.0


def test_moving_the_horizon_changes_the_rate_of_the_same_step():
    schedule = WarmupLinearDecay(1.0, warmup_steps=10, horizon=110)
    before = rates(schedule, [59])[0]
    schedule.set_horizon(60)
    after = rates(schedule, [59])[0]
    assert after == pytest.approx(0.0) and after < before
    schedule.set_horizon(5)  # never before the warm-up's end, which would divide by zero
    assert np.isfinite(rates(schedule, [3, 50])).all()


def test_inverse_square_root_decay_is_a_quarter_of_the_peak_at_sixteen_warmups():
    assert rates(WarmupInverseSqrt(1.0, 10), [9, 159]) == pytest.approx([1.0, 0.25])


@pytest.mark.parametrize("done, elapsed, mean, longest, budget, expected", [
    (0, 0.0, 0.0, 0.0, 600.0, 40),    # nothing measured yet: the planned epochs
    (2, 100.0, 50.0, 50.0, 0.0, 40),  # no time limit
    (2, 100.0, 50.0, 50.0, 600.0, 12),  # 10 more start, at 100, 150, ..., 550 (the last to end by 600)
    (2, 100.0, 50.0, 80.0, 600.0, 11),  # a slower epoch seen: none starts after 520, so 9 more
    (2, 590.0, 50.0, 50.0, 600.0, 2),   # no room for another
    (38, 100.0, 1.0, 1.0, 600.0, 40),   # never more than planned
])
def test_expected_epochs_follow_the_time_limits_rule(done, elapsed, mean, longest, budget, expected):
    assert expected_epochs(done, 40, elapsed, mean, longest, budget) == expected
