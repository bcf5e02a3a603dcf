"""Balance and dispersion measures, with literals."""

from objstore.ring import measures
from tests.unit.ring.test_placement import dev, grid, plan


def test_dispersion_counts_over_cap_partitions():
    devs = grid(1, 3, 1, 1)
    tree, parts, _, _, quota = plan(devs, 2, 2)
    # zones have share 2/3 -> cap 1; put partition 0 twice in zone 1 (two disks)
    devs2 = devs + [dev(3, 1, 1, "10.1.1.0")]
    tree2, parts, _, _, quota2 = plan(devs2, 2, 2)
    rows = [[0, 1, 2, 1], [3, 2, 0, 0]]
    percent = measures.dispersion_of(tree2, quota2, parts, rows, devs2)
    assert percent == 25.0


def test_balance_measures():
    assert measures.balance_of(110, 1.0, 4.0, 400) == 10.0
    assert measures.balance_of(5, 0.0, 4.0, 400) == measures.MAX_BALANCE
    assert measures.balance_of(0, 0.0, 4.0, 400) == 0.0
