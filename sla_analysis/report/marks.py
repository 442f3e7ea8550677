"""Fixed marks on the pages, in a module of their own: publishing and the index page use them
without importing the pages' plotting helpers."""

#: what every "not available" note says after its title (publishing recognises a note by it)
NOT_AVAILABLE_MARK = "not available in this data."

SAMPLE_BANNER = ('<div style="background:#fff3cd;border:1px solid #e0c36c;padding:8px 12px;'
                 'margin:4px 0 12px 0;border-radius:4px"><strong>Sample data.</strong> This page was '
                 'built from the bundled, generated sample CRM, not from your company\'s export.</div>')
