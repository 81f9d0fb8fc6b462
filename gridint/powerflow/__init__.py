"""Batch AC power flow: compile a pandapower net once, solve many steps at once.

Public API: :func:`compile_net`, :class:`CompiledNet`, :func:`run_batch`,
:class:`BatchResult`, :func:`element_injections`, :func:`net_injections`.
"""

from gridint.powerflow.batch import (
    BatchResult,
    element_injections,
    net_injections,
    run_batch,
)
from gridint.powerflow.compile import CompiledNet, compile_net

__all__ = [
    "BatchResult",
    "CompiledNet",
    "compile_net",
    "element_injections",
    "net_injections",
    "run_batch",
]
