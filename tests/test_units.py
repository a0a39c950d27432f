import numpy as np
import pandas as pd
import pytest

from capforecast._units import format_duration, parse_duration, parse_time
from capforecast.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), (600, 600), (np.int64(60), 60),
     ("15min", 900), ("2D", 172800), (pd.Timedelta("1h"), 3600), (np.timedelta64(5, "m"), 300)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pd.Timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "h", "-5m", "1x", True, "15", "90", "1e3", float("nan"),
                                 float("inf"), 1e300, "nan", "99999999999d", None, [15]])
def test_bad_durations_say_how_to_write_one(bad):
    with pytest.raises(ConfigError, match="lead_time: ") as info:
        parse_duration(bad, name="lead_time")
    assert "15m, 1h, 90s, 1h30m" in str(info.value) or "negative" in str(info.value)


def test_a_number_without_unit_is_seconds_from_python_only():
    assert parse_duration(900, name="lead_time") == pd.Timedelta("15m")  # the Python API: seconds
    for text_or_yaml in ("15", 15, 15.0):
        with pytest.raises(ConfigError, match="lead_time: '?15(.0)?'? has no unit; write a number and a unit"):
            parse_duration(text_or_yaml, name="lead_time", allow_numbers=isinstance(text_or_yaml, str))


def test_format_round_trips():
    for text in ("10m", "1h30m", "2d", "1w2d", "45s"):
        assert format_duration(parse_duration(text)) == text


def test_parse_time_rfc3339_and_unix_seconds():
    want = pd.Timestamp("2026-05-01T00:00:00Z")
    assert parse_time("2026-05-01T00:00:00Z") == want
    assert parse_time("2026-05-01T02:00:00+02:00") == want
    assert parse_time(want.timestamp()) == want
    assert parse_time(str(int(want.timestamp()))) == want
    assert parse_time(np.int64(want.timestamp())) == want  # NumPy integers are seconds too, not nanoseconds
    assert parse_time("2026-05-01").tz is not None
    with pytest.raises(ConfigError, match="RFC 3339"):
        parse_time("yesterday-ish")
