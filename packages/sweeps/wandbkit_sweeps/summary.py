"""One-line description of a valid sweep (what ``sweep validate`` prints)."""

from __future__ import annotations

from wandbkit_sweeps.config import SweepSpec, hyperband_bands


def describe(spec: SweepSpec) -> str:
    """``grid over 3 parameters (12 points), minimize val/loss, hyperband at 1, 3, 9``."""
    parts = [f"{spec.method} over {len(spec.searchable)} parameter(s)"]
    if spec.method == "grid":
        from wandbkit_sweeps.space import grid_size

        parts[0] += f" ({grid_size(spec)} points)"
    constants = len(spec.params) - len(spec.searchable)
    if constants:
        parts.append(f"{constants} constant(s)")
    if spec.metric_name:
        target = f" to {spec.target}" if spec.target is not None else ""
        parts.append(f"{spec.goal} {spec.metric_name}{target}")
    else:
        parts.append("no metric")
    if spec.hyperband:
        bands = hyperband_bands(spec.hyperband, limit=4)
        more = ", ..." if "min_iter" in spec.hyperband else ""
        parts.append(f"hyperband at iterations {', '.join(map(str, bands))}{more}")
    if spec.run_cap:
        parts.append(f"run_cap {spec.run_cap}")
    if spec.command or spec.program:
        parts.append("runs " + (" ".join(spec.command) if spec.command else str(spec.program)))
    return ", ".join(parts)
