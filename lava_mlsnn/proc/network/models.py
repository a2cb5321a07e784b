"""SubProcessModel of :class:`Network` (absolute imports for Lava's discovery)."""
from __future__ import annotations

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.sub.model import AbstractSubProcessModel
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn.proc.network.process import Network


@implements(proc=Network, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class SubNetworkModel(AbstractSubProcessModel):
    """The layers' neuron and synapse Processes, built and wired by the Process.

    The Process builds them itself (as netx does) so that ``net.layers`` can be probed
    before compilation; here they become this model's sub-Processes, so the compiler
    maps each to its own ``fixed_pt`` model.
    """

    def __init__(self, proc: Network) -> None:
        for k, p in enumerate(proc.processes):
            setattr(self, f"proc{k}", p)
