"""Peak GPU memory of a training step, an evaluation step and the entity-F1 generation pass.

The formula (docs/recipes.md explains each term) counts what is alive at the peak: the live
tensors, which the allocator's ``max_memory_allocated`` measures, plus the CUDA context. It was
calibrated on an H200 (bench/gpu_results.md): every measured configuration's live peak is within
15% of its estimate (tests/test_preflight_calibration.py). The logits term (batch x length x
vocabulary) dominates for Qwen's 152k vocabulary and is what made the users' evaluation batch of
12 run out of memory. Under bf16 mixed precision accelerate hands the loss the logits already
converted to fp32, so the focal loss's bounded chunks do not make its peak smaller than the stock
loss's (see FOCAL_TRAIN_LOGIT_BYTES).

The allocator's reserved peak on a large card is higher (2.0-2.7x the live peak measured): it
keeps the freed logits-sized blocks of earlier, shorter batches cached. PyTorch releases that
cache and retries before it raises out-of-memory, so the reserved figure is not what a card must
hold and is not estimated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plugins.options import FOCAL_CHUNK_BYTES
from plugins.preflight.models import ModelSpec

GIB = 1024**3
# CUDA context, kernel images and library handles outside the allocator: nvidia-smi minus the
# allocator's reserved peak, 1.36-1.43 GiB on the H200 (CUDA 13, bitsandbytes loaded); cards with
# fewer SMs need less, so this errs on the safe side there.
CUDA_OVERHEAD_GIB = 1.4
# Per logit (batch x length x vocabulary). The stock loss upcasts all of them at once:
TRAIN_LOGIT_BYTES = 12  # fp32 log-softmax kept for backward + the fp32 gradient of the NLL + its log-softmax gradient
EVAL_LOGIT_BYTES = 10  # bf16 logits + fp32 upcast + fp32 log-softmax, no gradient
# The focal loss (plugins.focal_loss) recomputes its fp32 work in checkpointed chunks of at most
# FOCAL_CHUNK_BYTES, but accelerate's bf16 autocast returns the logits converted to fp32, and the
# chunks' saved slices keep that copy alive through backward, where each slice's gradient comes
# back full-size (zeros outside the slice) and is summed into the full fp32 gradient:
FOCAL_TRAIN_LOGIT_BYTES = 12  # fp32 logits + the fp32 gradient being summed + one slice's full-size gradient
FOCAL_TRAIN_CHUNKS = 1  # the recomputed chunk whose gradient is being summed
FOCAL_EVAL_LOGIT_BYTES = 6  # bf16 logits + their fp32 copy while accelerate converts the outputs
FOCAL_EVAL_CHUNKS = 2  # then the fp32 logits with one chunk's fp32 copy and log-softmax


@dataclass(frozen=True)
class Setup:
    """The recipe values the estimate depends on (derived by :func:`setup_from_config`)."""

    train_batch: int
    eval_batch: int
    seq_len: int
    quant_bits: int | None = None
    double_quant: bool = True
    finetuning: str = "lora"
    lora_rank: int = 8
    lora_targets: tuple[str, ...] = ("all",)
    full_precision_trainable: bool = True  # LLaMA-Factory keeps trainable params in fp32
    gradient_checkpointing: bool = True
    optim_8bit: bool = False
    focal_loss: bool = False
    zero_stage: int = 0
    num_gpus: int = 1
    gen_batch: int = 0
    gen_len: int = 0


@dataclass
class Estimate:
    """One step's peak in GiB, by component, so the table shows what to shrink."""

    name: str
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.parts.values())


def _weight_bytes(spec: ModelSpec, s: Setup) -> float:
    """Frozen base weights: bnb 4/8-bit for the blocks' linear layers, 16-bit for embeddings."""
    if s.quant_bits == 4:
        per_param = 0.5 + (0.127 / 8 if s.double_quant else 4 / 64)  # nf4 + absmax per 64 values
        body = spec.linear_params * per_param + spec.embedding_params * 2
        body += max(a * b for a, b in spec.linear_shapes.values()) * 2  # one dequantised weight
    elif s.quant_bits == 8:
        body = spec.linear_params * (1 + 4 / 4096) + spec.embedding_params * 2
    elif s.finetuning == "full" and s.full_precision_trainable:
        body = spec.total_params * 4.0
    else:
        body = spec.total_params * 2.0
    return body / (s.num_gpus if s.zero_stage == 3 else 1)


def trainable_params(spec: ModelSpec, s: Setup) -> int:
    if s.finetuning == "lora":
        return spec.lora_params(s.lora_rank, list(s.lora_targets))
    return spec.total_params


def _layer_bytes_per_token(spec: ModelSpec) -> float:
    """16-bit tensors one decoder layer saves for backward, per token (fp32 norm inputs and LoRA
    dropout copies included): about 27h + 9q + 4kv + 11i bytes."""
    q, kv = spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim
    return 27 * spec.hidden + 9 * q + 4 * kv + 11 * spec.intermediate


def _trainable_bytes(spec: ModelSpec, s: Setup, with_grads: bool) -> float:
    """LoRA: fp32 params (+ fp32 grads) + Adam moments; full: params are in the weights already.
    Evaluation runs mid-training, so the optimiser states are still resident then."""
    adam = 2 if s.optim_8bit else 8
    per_param = adam + (4 if with_grads else 0) + (4 if s.finetuning == "lora" else 0)
    shard = s.num_gpus if s.zero_stage >= 2 else 1
    return trainable_params(spec, s) * per_param / shard


def logit_bytes(spec: ModelSpec, s: Setup, tokens: int, train: bool) -> float:
    """What the loss holds at its peak: the stock loss in fp32 over all logits; the focal loss
    (plugins.focal_loss) the fp32 logits accelerate returns plus its gradients and chunks."""
    logits = tokens * spec.vocab
    if not s.focal_loss:
        return logits * (TRAIN_LOGIT_BYTES if train else EVAL_LOGIT_BYTES)
    chunk = min(FOCAL_CHUNK_BYTES, logits * 4)
    if train:
        return logits * FOCAL_TRAIN_LOGIT_BYTES + FOCAL_TRAIN_CHUNKS * chunk
    return max(logits * FOCAL_EVAL_LOGIT_BYTES, logits * 4 + FOCAL_EVAL_CHUNKS * chunk)


def train_step(spec: ModelSpec, s: Setup) -> Estimate:
    tokens = s.train_batch * s.seq_len
    layer = _layer_bytes_per_token(spec) * tokens
    if s.gradient_checkpointing:
        activations = spec.layers * tokens * spec.hidden * 2 + 2 * layer
    else:
        activations = spec.layers * layer
    return Estimate(
        "train step",
        {
            "weights": _weight_bytes(spec, s) / GIB,
            "trainable+optimiser": _trainable_bytes(spec, s, True) / GIB,
            "activations": activations / GIB,
            "logits": logit_bytes(spec, s, tokens, train=True) / GIB,
            "cuda overhead": CUDA_OVERHEAD_GIB,
        },
    )


def eval_step(spec: ModelSpec, s: Setup) -> Estimate:
    tokens = s.eval_batch * s.seq_len
    return Estimate(
        "eval step",
        {
            "weights": _weight_bytes(spec, s) / GIB,
            "trainable+optimiser": _trainable_bytes(spec, s, False) / GIB,
            "activations": _layer_bytes_per_token(spec) * tokens / GIB,
            "logits": logit_bytes(spec, s, tokens, train=False) / GIB,
            "cuda overhead": CUDA_OVERHEAD_GIB,
        },
    )


def generate_step(spec: ModelSpec, s: Setup) -> Estimate:
    """Greedy decoding with a KV cache: only the last position's logits are computed."""
    tokens = s.gen_batch * s.gen_len
    kv_cache = tokens * spec.layers * 2 * spec.kv_heads * spec.head_dim * 2
    prefill = tokens * (2 * spec.hidden + 3 * spec.intermediate) * 2
    return Estimate(
        "generate (entity F1)",
        {
            "weights": _weight_bytes(spec, s) / GIB,
            "trainable+optimiser": _trainable_bytes(spec, s, False) / GIB,
            "activations": (kv_cache + prefill) / GIB,
            "logits": s.gen_batch * spec.vocab * 4 / GIB,
            "cuda overhead": CUDA_OVERHEAD_GIB,
        },
    )
