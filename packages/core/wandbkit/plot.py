"""``wandb.plot`` under ``import wandbkit as wandb``: the charts of :mod:`wandbkit.charts`."""

from wandbkit.charts import (
    CustomChart,
    bar,
    confusion_matrix,
    histogram,
    line,
    line_series,
    plot_table,
    pr_curve,
    roc_curve,
    scatter,
)

__all__ = ["CustomChart", "bar", "confusion_matrix", "histogram", "line", "line_series",
           "plot_table", "pr_curve", "roc_curve", "scatter"]
