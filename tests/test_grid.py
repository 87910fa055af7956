import numpy as np
import pytest

from sweep.grid import inclusive_range, linspace_values, parse_values


def test_inclusive_range_includes_stop_despite_binary_rounding():
    v = inclusive_range(0.1, 0.49, 0.01)
    assert len(v) == 40
    assert v[0] == 0.1 and v[-1] == 0.49
    assert v[3] == 0.13


def test_a_range_never_ends_short_of_its_stop_silently():
    # 0:1:0.3 would end at 0.9: refused, naming the stops on the lattice
    with pytest.raises(ValueError, match=r"stop 1.0 is not .* give stop = 0.9 or 1.2"):
        inclusive_range(0.0, 1.0, 0.3)
    with pytest.raises(ValueError, match="--eta: range stop 1.0"):
        parse_values(["0:1:0.3"], name="--eta")
    # one value from a range of num = 1 only where start is stop
    np.testing.assert_array_equal(linspace_values(0.5, 0.5, 1), [0.5])
    with pytest.raises(ValueError, match="num = 1"):
        linspace_values(0.0, 1.0, 1)


def test_parse_values_mixes_numbers_and_ranges():
    np.testing.assert_array_equal(parse_values(["-0.5:0:0.25", "2"], name="--eta"),
                                  [-0.5, -0.25, 0.0, 2.0])


@pytest.mark.parametrize("token", ["x", "1:2", "1:2:0", "2:1:0.1", "nan", "1:inf:1"])
def test_parse_values_rejects(token):
    with pytest.raises(ValueError, match="--eta"):
        parse_values([token], name="--eta")
