"""vibook.report: rounding that is stable across machines, and glue for the prose."""

import numpy as np
import pytest

from vibook.report import fmt, show, shown


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


def test_show_records_the_printed_text_for_the_prose(capsys):
    show(report_test_value=0.1234567, report_test_count=3, digits=3)
    assert capsys.readouterr().out.splitlines()[0].endswith("= 0.123")
    assert shown.report_test_value == "0.123" and shown.report_test_count == "3"
    assert repr(shown.report_test_value) == "0.123"          # text/plain in Jupyter: no quotes
    assert "report_test_value" in dir(shown)
    with pytest.raises(AttributeError, match="report_test_missing.*run the cell"):
        shown.report_test_missing
    show(report_test_unglued=1.0, glue=False)
    assert not hasattr(shown, "report_test_unglued")
