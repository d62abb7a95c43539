"""benchmarks/learning.py: every (budget, row) pair names a valid training configuration."""

import pytest

from partpose.training.config import load_config

from benchmark_scripts import ROOT, load_benchmark

learning = load_benchmark("learning")


@pytest.mark.parametrize("budget", list(learning.BUDGETS))
@pytest.mark.parametrize("row", [r for r in learning.ROWS if r != "mean_pose"])
def test_every_row_of_every_budget_is_a_valid_config(budget, row):
    config_path, rest = learning.split_overrides(learning.BUDGETS[budget])
    config = load_config(config_path and ROOT / config_path, rest + learning.ROWS[row][1])
    assert config.run.steps >= 1000
    # the table's budgets measure on the studio scene; cpu_random keeps the random scenes
    assert config.data.synthetic.scene == ("random" if budget == "cpu_random" else "studio")


def test_cpu_budget_rows_differ_only_by_their_setting():
    config_path, rest = learning.split_overrides(learning.BUDGETS["cpu"])
    base = load_config(config_path, rest)
    for row in ("supervised", "weak", "no_adaptation"):
        config = load_config(config_path, rest + learning.ROWS[row][1])
        assert (config.run, config.optim, config.data) == (base.run, base.optim, base.data), row
