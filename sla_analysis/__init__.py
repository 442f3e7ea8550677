"""sla-analysis: the numbers behind a sales & marketing SLA, from CRM exports."""
__version__ = "0.2.0"
