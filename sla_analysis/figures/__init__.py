"""The report's figures as one graph (:mod:`sla_analysis.figures.graph`); importing this package
registers every figure."""
from sla_analysis.figures import basics, compliance, cost, handoff, lead_value, plateau, proposal, stale_cohorts  # noqa: F401
from sla_analysis.figures.graph import FIGURES_FILE, REGISTRY, Figures, figure, page_figures  # noqa: F401
