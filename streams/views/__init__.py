"""What people read: one renderer per output kind (`render`), shared by `tail`, the
offline report, `runs show|list` and the demo; progress lines for long work."""

from streams.views.progress import Progress
from streams.views.report import Report, build_report, print_report

__all__ = ["Progress", "Report", "build_report", "print_report"]
