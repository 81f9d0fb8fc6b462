"""Before / after voltage envelope of a dispatch plan (matplotlib, PNG)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gridint.config import get_settings
from gridint.errors import DispatchError

__all__ = ["plot_plan"]

logger = logging.getLogger(__name__)


def plot_plan(plan, path: str | Path) -> Path:
    """Save the voltage envelope, battery powers and SoC of a plan as a PNG.

    Top: highest and lowest bus voltage per step [pu] without storage action
    (before) and with the plan (after), with the GB/T 12325 band. Middle:
    battery power [kW] (positive = charging) and curtailment. Bottom: SoC [%].

    Parameters
    ----------
    plan : gridint.dispatch.DispatchPlan
    path : str or path
        Output file (``.png``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DispatchError
        The plan carries no AC results (e.g. rebuilt from a stored dict), or
        matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise DispatchError(f"--plot needs matplotlib: {exc}") from None
    if plan._res_before is None:
        raise DispatchError("this plan holds no power-flow results to plot")
    s = get_settings()
    env = plan.envelope()
    hours = (env.index - env.index[0].normalize()) / np.timedelta64(1, "h")
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2, 1.4]})
    ax = axes[0]
    ax.fill_between(hours, env["vmin_pu_before"], env["vmax_pu_before"], step="post", color="tab:red",
                    alpha=0.2, label="without storage action")
    ax.plot(hours, env["vmax_pu_before"], drawstyle="steps-post", color="tab:red", lw=0.8)
    ax.plot(hours, env["vmin_pu_before"], drawstyle="steps-post", color="tab:red", lw=0.8)
    ax.plot(hours, env["vmax_pu_after"], drawstyle="steps-post", color="tab:blue", lw=1.6,
            label="with the plan (max / min)")
    ax.plot(hours, env["vmin_pu_after"], drawstyle="steps-post", color="tab:blue", lw=1.6)
    for v in (s.vm_max_pu, s.vm_min_pu):
        ax.axhline(v, color="k", ls="--", lw=0.8)
    ax.set_ylabel("bus voltage [pu]")
    ax.set_title(f"{plan.feeder} {plan.date} ({plan.kind}): violations {plan.before['violations']} -> "
                 f"{plan.after['violations']}, curtailment {plan.curtailment_kwh:.1f} kWh")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for k, name in enumerate(plan.units.names):
        ax.plot(hours, plan.p_kw[:, k], drawstyle="steps-post", lw=1.2, label=str(name))
    curt = plan.curtail_kw.to_numpy().sum(axis=1)
    if curt.max() > 0:
        ax.plot(hours, curt, drawstyle="steps-post", color="k", ls=":", lw=1.2, label="PV curtailment")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("power [kW]\n(+ = charging)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[2]
    for k in range(len(plan.units)):
        ax.plot(hours, plan.soc_percent[:, k], drawstyle="steps-post", lw=1.2)
    ax.set_ylabel("SoC [%]")
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"hour of day ({plan.time_index.tz})")
    ax.set_xlim(hours[0], hours[-1] + 0.25)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    logger.info("wrote %s", path)
    return path
