from tests.builders.demands import demands  # noqa: F401 - the demand-library helpers
