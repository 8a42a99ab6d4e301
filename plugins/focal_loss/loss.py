"""Token-level focal loss for causal LMs, memory-bounded and correct under gradient accumulation.

transformers does not divide a custom ``compute_loss_func`` by the accumulation steps, so the loss
is a sum over supervised tokens divided by ``num_items_in_batch`` (the supervised-token count of
the whole accumulated batch). The full-vocabulary fp32 work is done in checkpointed chunks of rows,
so no more than one chunk of fp32 log-probabilities lives at a time (the stock loss keeps a full
``batch x length x vocab`` fp32 copy plus its log-softmax). That bound holds for the loss itself:
under bf16 mixed precision accelerate already hands it the logits converted to fp32, and each
chunk's gradient comes back full-size from its slice, so a training step's peak is about the stock
loss's (measured on an H200; plugins/preflight/memory.py counts it).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from llamafactory.extras.constants import IGNORE_INDEX
from torch.utils.checkpoint import checkpoint

from piifactory.errors import PiiFactoryError
from plugins.options import FOCAL_CHUNK_BYTES


class MissingLogitsError(PiiFactoryError, RuntimeError):
    """The forward returned no logits to weigh (a fused-loss kernel computed the loss itself)."""


def _chunk_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, gamma: float) -> torch.Tensor:
    """Sum of ``weights * (1 - p_t)^gamma * -log p_t`` over the supervised rows of one chunk."""
    keep = targets != IGNORE_INDEX
    nll = F.cross_entropy(logits[keep].float(), targets[keep], reduction="none")
    if gamma != 0.0:
        # clamp: (1 - p_t)^gamma has an infinite slope at p_t = 1 when gamma < 1
        nll = (-torch.expm1(-nll)).clamp_min(1e-12).pow(gamma) * nll
    return (nll * weights[keep]).sum()


def focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    gamma: float,
    alpha: float = 1.0,
    token_weights: torch.Tensor | None = None,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """Focal loss over supervised tokens (labels shifted left by one, as transformers does).

    ``token_weights`` (same shape as ``labels``, aligned with the unshifted labels) multiplies each
    token's term. The sum is divided by ``num_items_in_batch`` when given, else by the number of
    supervised tokens here: weights raise a token's share, they do not renormalise the batch.
    """
    shift_labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:].reshape(-1).to(logits.device)
    flat = logits.reshape(-1, logits.size(-1))
    if token_weights is None:
        shift_weights = torch.ones_like(shift_labels, dtype=torch.float32)
    else:
        shift_weights = F.pad(token_weights.float(), (0, 1), value=0.0)[..., 1:].reshape(-1).to(logits.device)
    rows = max(1, FOCAL_CHUNK_BYTES // (4 * logits.size(-1)))
    total = flat.new_zeros((), dtype=torch.float32)
    for begin in range(0, flat.size(0), rows):
        targets = shift_labels[begin : begin + rows]
        if not bool((targets != IGNORE_INDEX).any()):
            continue
        chunk = flat[begin : begin + rows]
        weights = shift_weights[begin : begin + rows]
        if chunk.requires_grad:
            total = total + checkpoint(_chunk_loss, chunk, targets, weights, gamma, use_reentrant=False)
        else:
            total = total + _chunk_loss(chunk, targets, weights, gamma)
    denominator = num_items_in_batch if num_items_in_batch is not None else (shift_labels != IGNORE_INDEX).sum()
    if torch.is_tensor(denominator):
        denominator = denominator.to(total.device)
    return alpha * total / denominator


def answer_window(labels: torch.Tensor) -> int:
    """The first position whose logits the loss reads: logits at ``p`` predict the label at ``p + 1``.

    Every earlier position is prompt in every row of the batch, so the forward can skip its logits
    (``logits_to_keep``), the largest tensors of a step with Qwen's 152k vocabulary; the loss on the
    rest, with ``labels[:, start:]``, is the same loss (equal to rounding: tests/test_prompt_logits.py).
    """
    supervised = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    return max(int(supervised[0]) - 1, 0) if supervised.numel() else 0


def make_loss_func(
    gamma: float, alpha: float, weigher: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[..., torch.Tensor]:
    """A ``compute_loss_func(outputs, labels, num_items_in_batch=None)`` for the Trainer."""

    def compute_loss_func(
        outputs: Any, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        if logits is None or logits.numel() == 0:
            raise MissingLogitsError(
                "focal loss got no logits from the model's forward (Unsloth's fused loss returns empty ones): "
                "set UNSLOTH_RETURN_LOGITS=1 or drop pii_factory.focal_loss"
            )
        weights = weigher(labels) if weigher is not None else None
        return focal_loss(
            logits, labels, gamma=gamma, alpha=alpha, token_weights=weights, num_items_in_batch=num_items_in_batch
        )

    return compute_loss_func
