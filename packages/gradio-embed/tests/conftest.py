"""Fixtures of the gradio-embed tests (defined in gradio_dashboard_helpers)."""

from gradio_dashboard_helpers import dashboard_store  # noqa: F401
