from tests.demands.conftest import demands  # noqa: F401 - the demand-library helpers
