"""Imported once by the fork server that notebook kernels are forked from (:mod:`sla_analysis.report.kernels`):
the modules every page imports, so that no kernel pays for them. Third-party modules only.

matplotlib reads its backend from ``MPLBACKEND`` when it is imported, before any kernel exists: the
backend is set here to the inline one ipykernel would choose (its ``MPLBACKEND``), so the charts are
drawn into the notebook as in a new kernel. One
chart is drawn here (off screen, without pyplot) so that the fonts are loaded once.
"""
import io
import os

import matplotlib

if "MPLBACKEND" not in os.environ:  # a backend the caller chose wins, as ipykernel does
    matplotlib.rcParams["backend"] = "module://matplotlib_inline.backend_inline"

import duckdb  # noqa: E402,F401
import ibis  # noqa: E402,F401
import ibis.backends.duckdb  # noqa: E402,F401 (the pages' engine, with Ibis's SQL compilers)
import IPython  # noqa: E402,F401
import matplotlib.pyplot  # noqa: E402,F401
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401
import pyarrow  # noqa: E402,F401
import scipy.optimize  # noqa: E402,F401
import scipy.special  # noqa: E402,F401
import scipy.stats  # noqa: E402,F401
import seaborn  # noqa: E402,F401
import statsmodels.api  # noqa: E402,F401
import statsmodels.duration.survfunc  # noqa: E402,F401
import statsmodels.stats.multitest  # noqa: E402,F401
import statsmodels.stats.power  # noqa: E402,F401
import statsmodels.stats.proportion  # noqa: E402,F401
import yaml  # noqa: E402,F401
from ipykernel import kernelapp  # noqa: E402,F401
from matplotlib.figure import Figure  # noqa: E402


def _draw_once() -> None:
    """Draw and save one small chart with text, without pyplot (which would fix its backend before
    the kernel exists): matplotlib loads its font files and fills its text caches here, once."""
    fig = Figure(figsize=(2, 1))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.set_title("warm-up")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")


_draw_once()
