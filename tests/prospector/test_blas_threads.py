"""``blas_threads``: the BLAS thread limit that samplers and the amortized route run under."""

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    import scipy.linalg  # noqa: F401 - SciPy's BLAS, which the compiled kernels call

    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


def test_the_limit_holds_inside_and_is_restored_after():
    from prospect_emu.prospector.samplers import blas_threads

    before = _blas_threads()
    assert before, "no BLAS library found"
    with blas_threads(1):
        assert _blas_threads() == [1] * len(before)
        with blas_threads(1):  # nested, as the route's emcee fallback is
            np.dot(np.ones((64, 64)), np.ones((64, 64)))
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    with blas_threads(None):  # no limit asked: nothing changes
        assert _blas_threads() == before
