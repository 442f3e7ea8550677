"""The report: running the notebooks, what a page shows (tables, charts, prose), the workbook, the
index pages, and publishing a period atomically."""
