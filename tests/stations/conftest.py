"""The fixtures of tests/stations: defined with their builders in `tests/builders/stations.py`."""

from tests.builders.stations import make_station, origin  # noqa: F401
