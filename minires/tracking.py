"""Tracker: measurements of a net's insides taken every K training steps (``--track``).

``minires train --track grad-norms,activations --track-every 20`` builds a Tracker; the
training loop calls :meth:`Tracker.after_step` after every optimiser step, and every K-th
call measures the net with :mod:`minires.analysis` on that step's batch and keeps one
record. The command writes the records to the run folder as ``tracks.jsonl`` (one JSON
object per line) and draws them in ``tracks.png`` after every epoch.

A record holds the global step (counting from 1 over the whole run), the epoch, the
batch size N, and for each kind tracked:

========================  ==================================================================
kind                      fields of the record
========================  ==================================================================
``grad-norms``            ``blocks`` (names) and ``grad_norms``: sqrt(N) ||dL/dx_l|| for the
                          output x_l of each block (analysis.block_norms, L the batch's mean
                          loss): the root mean square over the examples of each example's
                          ||d loss_n / dx_l||
``activations``           ``blocks`` and ``activations``: ||x_l|| / sqrt(N), the root mean
                          square of each example's ||x_l||
``gates``                 ``gate_blocks``, ``gate_means``, ``gate_stds``: the transform gate
                          T(x) of each highway block (analysis.gate_statistics)
``alpha``                 ``van_layers``, ``alpha_means`` (mean alpha of each VAN layer) and
                          ``alpha_residual`` (analysis.van_alphas)
``noise-stability``       ``weight_layers`` and ``noise_stability``: the relative change of the
                          logits when noise of 1% of a layer's weight norm is added to that
                          layer alone (analysis.noise_stability, one draw, 32 images, the
                          net in evaluation mode)
========================  ==================================================================

The norms are per example so that the records of a smaller last batch compare with
the others (a norm over the whole batch grows with sqrt(N)).

The measurements leave the training untouched: block_norms keeps the parameters'
gradients and the batch-norm statistics as they were, noise_stability restores the
weights bit for bit. Each measurement reads the device once, when a record is made;
steps in between read nothing. The cost is about one extra forward and backward per
record (noise-stability: one forward per weight layer); benchmarks/bench_tracking.py
measures it.
"""

import math

from minires import analysis
from minires.analysis.modules import highway_blocks, van_layers

KINDS = ("grad-norms", "activations", "gates", "alpha", "noise-stability")
NOISE_RELATIVE_SCALE = 0.01         # noise of 1% of each layer's weight norm
NOISE_IMAGES = 32                   # images of the batch that noise stability evaluates


def parse_kinds(text) -> list:
    """"grad-norms,alpha" -> ["grad-norms", "alpha"]; a ValueError names an unknown kind."""
    kinds = [kind.strip() for kind in str(text).split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown kind {', '.join(unknown) or '(none given)'}; choose from {', '.join(KINDS)}, "
                         "separated by commas")
    return list(dict.fromkeys(kinds))           # in the order given, each once


def check_kinds_fit(kinds, model):
    """A ValueError when a kind cannot be measured on ``model`` (gates without highway
    blocks, alpha without VAN layers, norms without blocks)."""
    needs = {"gates": "highway blocks", "alpha": "VAN layers"}
    for kind in kinds:
        if kind in needs and not _has(model, kind):
            raise ValueError(f"{kind}: the model {type(model).__name__} has no {needs[kind]} to track")
        if kind in ("grad-norms", "activations") and not analysis.blocks(model):
            raise ValueError(f"{kind}: the model {type(model).__name__} has no blocks to track")


def _has(model, kind):
    return bool(highway_blocks(model) if kind == "gates" else van_layers(model))


class Tracker:
    """Takes a record of ``kinds`` every ``every`` steps; ``records`` holds them all.

    Args:
        model: the net being trained.
        kinds: names from KINDS (see parse_kinds).
        every: steps between records (the first is taken after step ``every``).
        steps_done: steps already trained (a resumed run: epochs done x steps per epoch).
        records: the records of those steps (a resumed run's, read from tracks.jsonl).
    """

    def __init__(self, model, kinds, every, steps_done=0, records=None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"Tracker: every must be a positive int (steps between records); got {every!r}")
        self.model, self.kinds, self.every = model, list(kinds), every
        self.step = steps_done
        self.records = list(records or [])

    def after_step(self, epoch, images, labels):
        """Counts one step; on every ``every``-th, measures the net on (images, labels)."""
        self.step += 1
        if self.step % self.every == 0:
            self.records.append(self.measure(epoch, images, labels))

    def measure(self, epoch, images, labels) -> dict:
        """One record of every kind tracked, on this batch, as plain numbers (JSON-ready)."""
        batch_size = labels.shape[0]
        record = {"step": self.step, "epoch": epoch, "batch_size": batch_size}
        if "grad-norms" in self.kinds or "activations" in self.kinds:
            norms = analysis.block_norms(self.model, images, labels)
            record["blocks"] = norms["names"]
            if "grad-norms" in self.kinds:                  # per example (see the module docstring)
                record["grad_norms"] = (norms["activation_grad"] * math.sqrt(batch_size)).tolist()
            if "activations" in self.kinds:
                record["activations"] = (norms["activation"] / math.sqrt(batch_size)).tolist()
        if "gates" in self.kinds:
            gates = analysis.gate_statistics(self.model, images)
            record.update(gate_blocks=gates["names"], gate_means=gates["mean"].tolist(),
                          gate_stds=gates["std"].tolist())
        if "alpha" in self.kinds:
            alphas = analysis.van_alphas(self.model)
            record.update(van_layers=alphas["names"], alpha_means=alphas["mean"].tolist(),
                          alpha_residual=float(alphas["alpha_residual"]))
        if "noise-stability" in self.kinds:
            # In evaluation mode: batch norm then reads its running statistics instead of
            # updating them, so that the measurement leaves the training as it was.
            was_training = self.model.training
            self.model.eval()
            try:
                stability = analysis.noise_stability(self.model, images[:NOISE_IMAGES],
                                                     relative_scale=NOISE_RELATIVE_SCALE, draws=1, seed=self.step)
            finally:
                self.model.train(was_training)
            record.update(weight_layers=stability["names"],
                          noise_stability=stability["relative_change"].tolist())
        return record
