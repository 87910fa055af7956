import numpy as np
import pytest

from sweep.grid import inclusive_range, parse_values


def test_inclusive_range_includes_stop_despite_binary_rounding():
    v = inclusive_range(0.1, 0.49, 0.01)
    assert len(v) == 40
    assert v[0] == 0.1 and v[-1] == 0.49
    assert v[3] == 0.13


def test_parse_values_mixes_numbers_and_ranges():
    np.testing.assert_array_equal(parse_values(["-0.5:0:0.25", "2"], name="--eta"),
                                  [-0.5, -0.25, 0.0, 2.0])


@pytest.mark.parametrize("token", ["x", "1:2", "1:2:0", "2:1:0.1", "nan", "1:inf:1"])
def test_parse_values_rejects(token):
    with pytest.raises(ValueError, match="--eta"):
        parse_values([token], name="--eta")
