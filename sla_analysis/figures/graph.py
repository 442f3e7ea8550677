"""The report's figures as one graph: each figure a named function, computed once per report.

A figure is a plain function registered with :func:`figure`. Its parameters name what it is
computed from: the report's inputs (:data:`INPUTS`: the validated export ``crm``, the config
``cfg``, the ``period``) or other figures, by their names (the parameter names are the graph's
edges, as in Apache Hamilton; ``docs/architecture.md`` says why this is a small registry instead).
Its docstring states the formula; ``needs`` names the facts of the export it cannot do without
(:mod:`sla_analysis.io.export_profile`): when one is missing the figure is not computed, and its
value is ``Result.absent`` with the reason the profile generated.

A report computes the figures once, in one process (:meth:`Figures.compute`), and keeps them for
the run (:meth:`Figures.save`); the pages, the index, ``summary.json``, ``tables.xlsx`` and the
proposal read them (:meth:`Figures.load`). A notebook opened by hand has no stored figures: it
computes what it shows through the same graph, on first ask.
"""
from __future__ import annotations

import inspect
import pickle
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from sla_analysis.errors import FigureError
from sla_analysis.formats import to_json
from sla_analysis.results import Result

#: what every figure is ultimately computed from
INPUTS = ("crm", "cfg", "period")
#: where a report keeps its computed figures for its pages (in the run's fragments folder)
FIGURES_FILE = "figures.pkl"


@dataclass(frozen=True)
class Figure:
    """One node of the graph."""

    name: str
    func: Callable[..., Any]
    inputs: tuple[str, ...]     # the parameter names: report inputs or other figures
    needs: tuple[str, ...]      # facts of the export (ExportProfile) the figure cannot do without
    unit: str | None
    pages: tuple[str, ...]      # the pages that show it (what a report computes for a page)
    summary: str | None         # its key in summary.json ("" : its keys are top-level ones), or None

    @property
    def definition(self) -> str:
        """The docstring's first paragraph: what the figure is and how it is computed."""
        doc = inspect.getdoc(self.func) or ""
        return " ".join(doc.split("\n\n")[0].split())


#: every figure of the suite, by name (filled by the modules of :mod:`sla_analysis.figures`)
REGISTRY: dict[str, Figure] = {}


def figure(*, needs: Iterable[str] = (), unit: str | None = None, pages: Iterable[str] = (),
           summary: str | None = None) -> Callable:
    """Register the decorated function as the figure named after it. ``summary``: the key of
    ``summary.json`` its value is written under (``""``: a dict whose keys are top-level keys)."""

    def register(func: Callable) -> Callable:
        name = func.__name__
        if name in REGISTRY or name in INPUTS:
            raise FigureError(f"figure {name!r} is defined twice")
        params = tuple(inspect.signature(func).parameters)
        REGISTRY[name] = Figure(name, func, params, tuple(needs), unit, tuple(pages), summary)
        return func

    return register


def dependencies(names: Iterable[str]) -> list[str]:
    """``names`` and every figure they are computed from, each after what it needs (a topological
    order; a name that is neither a figure nor an input is an error)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in INPUTS or state.get(name) == "done":
            return
        if name not in REGISTRY:
            via = f" (asked by {path[-1]})" if path else ""
            raise FigureError(f"no figure is named {name!r}{via}")
        if state.get(name) == "visiting":
            raise FigureError("the figures form a cycle: " + " -> ".join([*path, name]))
        state[name] = "visiting"
        for dep in REGISTRY[name].inputs:
            visit(dep, (*path, name))
        state[name] = "done"
        order.append(name)

    for n in names:
        visit(n, ())
    return order


def page_figures(page: str) -> list[str]:
    """The figures ``page`` shows and everything they are computed from."""
    return dependencies(sorted(n for n, f in REGISTRY.items() if page in f.pages))


class Figures:
    """The figures of one report (one export, config and period), each computed once.

    ``figures["stale_cohorts"]`` is the figure's value: read from what the report stored, else
    computed now from the inputs (a notebook opened by hand). With ``strict`` (a report's page), a
    figure the report did not store is an error: a page never computes what the report did not."""

    def __init__(self, crm: Any = None, cfg: Any = None, period: Any = None,
                 values: dict[str, Any] | None = None, strict: bool = False) -> None:
        self._inputs = {"crm": crm, "cfg": cfg, "period": period}
        self._values: dict[str, Any] = dict(values or {})
        self._strict = strict

    def __getitem__(self, name: str) -> Any:
        if name in INPUTS:
            return self._inputs[name]
        if name not in self._values:
            if self._strict:
                raise FigureError(f"figure {name!r} was not computed for this page: add the page to its "
                                  "figure(pages=...) in sla_analysis/figures")
            for dep in dependencies([name]):
                if dep not in self._values:
                    self._values[dep] = self._compute(REGISTRY[dep])
        return self._values[name]

    def _compute(self, fig: Figure) -> Any:
        if fig.needs:
            why = self._inputs["crm"].profile.unmet(*fig.needs)
            if why:
                return Result.absent(why)
        value = fig.func(**{p: self[p] for p in fig.inputs})
        return Result.of(value) if fig.needs else value

    def compute(self, names: Iterable[str] | None = None, ahead: Iterable[str] = (),
                inputs_for_ahead: Callable[[], dict] | None = None) -> "Figures":
        """Compute ``names`` (default: every figure) and what they need, each once. ``ahead``: long
        figures computed meanwhile in a thread of their own, on the inputs ``inputs_for_ahead()``
        gives (their own engine connection: one connection is not used by two threads at once); a
        figure that needs one waits for it. Results do not depend on it, only the wall time does."""
        order = dependencies(REGISTRY if names is None else names)
        pending: dict[str, Future] = {}
        if inputs_for_ahead is not None:
            pool = ThreadPoolExecutor(max_workers=max(1, len(list(ahead))), thread_name_prefix="figures-ahead")
            for name in ahead:
                if name in order and name not in self._values:
                    pending[name] = pool.submit(lambda n=name: Figures(**inputs_for_ahead())[n])
            pool.shutdown(wait=False)
        waits = {n for n in order if pending and set(dependencies([n])) & set(pending)}
        for name in order:  # first what does not need an ahead figure, while it is computed
            if name not in waits:
                self[name]
        for name, future in pending.items():
            self._values[name] = future.result()
        for name in order:  # then what needs it
            self[name]
        return self

    @property
    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def save(self, path: Path) -> None:
        """Keep the computed figures for the run's pages (a pickle: DataFrames and dataclasses as
        they are; it lives only as long as the run's staging folder)."""
        with open(path, "wb") as fh:
            pickle.dump(self._values, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path, cfg: Any = None, period: Any = None) -> "Figures":
        """The figures a report stored with :meth:`save` (strict: nothing is computed again)."""
        with open(path, "rb") as fh:
            values = pickle.load(fh)
        return cls(None, cfg, period, values, strict=True)


def summary_sections(figures: Figures, pages: Iterable[str]) -> dict[str, Any]:
    """The figures of ``pages`` that ``summary.json`` carries, by their key (in JSON types)."""
    pages = set(pages)
    out: dict[str, Any] = {}
    for name in sorted(REGISTRY):
        fig = REGISTRY[name]
        if fig.summary is None or not pages & set(fig.pages):
            continue
        value = to_json(figures[name])
        for key, v in (value.items() if fig.summary == "" else [(fig.summary, value)]):
            if isinstance(v, dict) and isinstance(out.get(key), dict):
                out[key].update(v)
            else:
                out[key] = v
    return out


def mermaid() -> str:
    """The graph as a Mermaid flowchart (``docs/architecture.md`` draws it; GitHub renders it):
    the figures grouped by the first page that shows them, an arrow from each figure to those
    computed from it; the figures that query the export (``crm``) drawn with a thick border. The
    config and the period, which most figures read, are left out of the drawing."""
    lines = ["flowchart LR", "    classDef export stroke-width:3px"]
    groups: dict[str, list[str]] = {}
    for name in sorted(REGISTRY):
        pages = REGISTRY[name].pages
        group = "every page" if len(pages) > 2 else pages[0] if pages else "what other figures read"
        groups.setdefault(group, []).append(name)
    for i, (page, names) in enumerate(sorted(groups.items())):
        lines.append(f'    subgraph g{i}["{page}"]')
        lines += [f"        {n}" + (":::export" if "crm" in REGISTRY[n].inputs else "") for n in names]
        lines.append("    end")
    for name in sorted(REGISTRY):
        lines += [f"    {dep} --> {name}" for dep in REGISTRY[name].inputs if dep in REGISTRY]
    return "\n".join(lines) + "\n"
