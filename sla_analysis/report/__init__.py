"""The report: running the notebooks, what a page shows (tables, charts, prose), the workbook, the
index pages, and publishing a period atomically."""
import sys

# nbformat validates notebooks with jsonschema, which, when ``rfc3987_syntax`` is installed (JupyterLab's
# dependencies, ``make lab``, install it), builds that package's IRI grammar at import: 3 s of every run, for a
# format no notebook schema uses. jsonschema skips the format when the import fails, as here.
sys.modules.setdefault("rfc3987_syntax", None)
