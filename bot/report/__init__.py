"""First-response and service-level figures, computed from the audit log read by time.

``Reports.build`` streams the audit rows of a period page by page through ``Fold`` (one small
track per open thread) into ``Figures`` per department and per person; ``render`` prints them
as a table, CSV or JSON. The CLI, the chat ``report`` verb and the metrics share this one core."""

from bot.report.figures import Figures, Report, Row
from bot.report.fold import Fold, Sink
from bot.report.service import Reports

__all__ = ["Figures", "Fold", "Report", "Reports", "Row", "Sink"]
