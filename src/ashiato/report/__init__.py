"""The incident report: one self-contained HTML file (and a PDF of it) answering the incident's
questions with real charts, for people who will never run ashiato themselves.

``write_report(store, inventory, "report.html", incident_id, pdf="report.pdf")`` investigates the
incident (the top of the queue when no id is given), draws the charts with Matplotlib, inlines them
as data URIs into a Jinja template and, if asked, prints the same HTML to PDF with WeasyPrint.
Nothing is fetched at run time and nothing is needed from the network to open the file.
"""

from __future__ import annotations

from ashiato.report.build import ReportPaths, render_html, write_pdf, write_report

__all__ = ["ReportPaths", "render_html", "write_pdf", "write_report"]
