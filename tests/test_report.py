"""vibook.report: rounding that is stable across machines, and glue for the prose."""

import numpy as np
import pytest

from vibook.report import fmt, show


@pytest.mark.parametrize("value, digits, text", [
    (0.2776454, 6, "0.277645"), (-1.2814102, 6, "-1.28141"), (2.0, 3, "2.00"),
    (100, 3, "100"), (np.int32(7), 2, "7"), (1234.5678, 3, "1.23e+03"),
    (3.2e-7, 2, "3.2e-07"), (7e-5, 1, "7e-05"), (0.0, 4, "0")])
def test_fmt(value, digits, text):
    assert fmt(value, digits) == text


def test_float32_noise_does_not_change_the_printed_digits():
    exact = 0.16641005886756874
    noisy = float(np.float32(exact)) * (1 + 3e-7)
    assert fmt(exact, 5) == fmt(noisy, 5)


def test_show_prints_aligned_lines(capsys):
    show(a=1.0, longer_name=0.5, digits=3, glue=False)
    assert capsys.readouterr().out == "a           = 1.00\nlonger_name = 0.500\n"


def test_show_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name=value"):
        show()
    with pytest.raises(ValueError, match="digits"):
        show(a=1.0, digits=0)
