import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def torch():
    """PyTorch when installed; the test is skipped cleanly otherwise."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _threads():
    """Every test leaves the engine's thread count and BLAS's as it found them."""
    from tinygrad_rnn import parallel
    before, blas = parallel._threads, parallel.blas_threads()
    yield
    parallel._threads = before
    for lib, n in zip(parallel._blas().lib_controllers if blas else [], blas):
        lib.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seed():
    import tinygrad_rnn
    tinygrad_rnn.manual_seed(0)
    np.random.seed(0)
