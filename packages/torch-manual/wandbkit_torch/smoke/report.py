"""The outcome of a smoke run: verdicts, overall status and exit code, in three renderings:
a rich table for the terminal, a JSON object for scripts, and a table + summary in a run."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from wandbkit.smoke import Verdict

STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
# Curves in verdict numbers that are logged to the run as history, aligned by step index.
CURVES = {("overfit_batch", "curve"): "smoke/overfit/loss",
          ("zero_input_baseline", "real_curve"): "smoke/baseline/real_loss",
          ("zero_input_baseline", "zero_curve"): "smoke/baseline/zero_loss",
          ("lr_range", "lrs"): "smoke/lr_range/lr",
          ("lr_range", "losses"): "smoke/lr_range/loss",
          ("quick_train", "epoch_losses"): "smoke/quick_train/epoch_loss"}


@dataclass
class SmokeReport:
    """Every verdict of one smoke run, with the overall status and the CLI exit code."""

    verdicts: list[Verdict]
    task: str = ""
    device: str = ""
    seconds: float = 0.0
    out_dir: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``fail`` if any check failed, else ``warn`` if any warned, else ``pass``."""
        statuses = {v.status for v in self.verdicts}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 when any check failed."""
        return 1 if self.status == "fail" else 0

    def verdict(self, name: str) -> Verdict:
        """The verdict of the check called ``name`` (KeyError if it did not run)."""
        for v in self.verdicts:
            if v.name == name:
                return v
        raise KeyError(f"no verdict named {name!r}; ran: {[v.name for v in self.verdicts]}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: status, exit code, context and the list of verdicts."""
        return jsonable({"status": self.status, "exit_code": self.exit_code, "task": self.task,
                         "device": self.device, "seconds": round(self.seconds, 3),
                         "run_id": self.run_id, "out_dir": self.out_dir, **self.extra,
                         "verdicts": [v.to_dict() for v in self.verdicts]})

    def to_json(self) -> str:
        """:meth:`to_dict` as strict JSON (NaN/Inf written as strings)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    def render(self, console: Any) -> None:
        """Print the verdict table and the overall line on a ``rich`` console."""
        from rich.table import Table
        from rich.text import Text

        # Names, reasons and paths hold user text (module names, shapes, messages): Text, so
        # Rich shows them as given instead of reading "[...]" as markup.
        table = Table(title=Text(f"wandbkit smoke ({self.task}, {self.device})"))
        table.add_column("check")
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        table.add_column("s", justify="right")
        for v in self.verdicts:
            table.add_row(Text(v.name), Text(v.status, style=STYLES.get(v.status, "")),
                          Text(v.reason), f"{v.seconds:.2f}")
        console.print(table)
        counts = ", ".join(f"{sum(v.status == s for v in self.verdicts)} {s}"
                           for s in ("pass", "warn", "fail", "skip"))
        console.print(Text.assemble((self.status.upper(), STYLES[self.status]),
                                    f" ({counts}) in {self.seconds:.1f} s",
                                    f"; files in {self.out_dir}" if self.out_dir else ""))

    def log_to(self, run: Any, ctx: Any = None) -> None:
        """Log curves, the verdict table, the LR plot and a summary to a wandbkit run."""
        import wandbkit

        self._log_curves(run)
        row: dict[str, Any] = {"smoke/verdicts": wandbkit.Table(
            columns=["check", "status", "reason", "seconds", "numbers"],
            data=[[v.name, v.status, v.reason, round(v.seconds, 4), _scalars_text(v)]
                  for v in self.verdicts])}
        plot = self._plot_path()
        if plot:
            from PIL import Image

            with Image.open(plot) as img:
                row["smoke/lr_range_plot"] = wandbkit.Image(img.convert("RGB"),
                                                            caption="loss vs learning rate")
        run.log(row)
        if ctx is not None:
            before = run.config.get("smoke")
            run.config.update({"smoke": {**(before if isinstance(before, dict) else {}),
                                         "task": self.task, "device": self.device,
                                         **jsonable(vars(ctx.settings))}})
        run.summary["smoke/status"] = self.status
        run.summary["smoke/exit_code"] = self.exit_code
        for v in self.verdicts:
            run.summary[f"smoke/{v.name}/status"] = v.status
            run.summary[f"smoke/{v.name}/reason"] = v.reason
            for key, value in _scalars(v).items():
                run.summary[f"smoke/{v.name}/{key}"] = value

    def _log_curves(self, run: Any) -> None:
        """One history row per curve index holding every curve that reaches it.

        Rows take the run's next steps (so a run that already trained keeps its steps
        increasing); ``smoke/step`` is the index within the curves, for plotting against.
        """
        series: dict[str, list[float]] = {}
        for v in self.verdicts:
            for key, value in v.numbers.items():
                metric = CURVES.get((v.name, key))
                if metric and isinstance(value, list):
                    series[metric] = [x for x in value if isinstance(x, (int, float))]
        length = max((len(s) for s in series.values()), default=0)
        for i in range(length):
            run.log({"smoke/step": i, **{m: s[i] for m, s in series.items() if i < len(s)}})

    def _plot_path(self) -> str | None:
        for v in self.verdicts:
            if v.name == "lr_range" and isinstance(v.numbers.get("plot"), str):
                return v.numbers["plot"]
        return None


def _scalars(v: Verdict) -> dict[str, Any]:
    return {k: x for k, x in jsonable(v.numbers).items()
            if isinstance(x, (int, float, str, bool)) and not isinstance(x, list)}


def _scalars_text(v: Verdict) -> str:
    return json.dumps({k: x for k, x in _scalars(v).items() if not isinstance(x, str)
                       or len(x) < 80}, allow_nan=False)


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(allow_nan=False)`` accepts: NaN/Inf become strings,
    tuples lists, tensors and numpy values Python numbers, anything else its ``str``."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy values and tensors
        return jsonable(obj.tolist())
    return str(obj)
