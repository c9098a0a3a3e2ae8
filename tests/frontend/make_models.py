#!/usr/bin/python3
"""Makes the small ONNX models the frontend tests read (good ones and deliberately bad ones).

Run from anywhere: /usr/bin/python3 tests/frontend/make_models.py. The outputs are committed
(they are test inputs), so this only needs rerunning when a model changes. Needs the Debian
python3-onnx package. Files go into the folder holding this script; bad models are in bad/.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad")
OPSET = 17


def model(nodes, inputs, outputs, inits=(), value_info=(), opset=OPSET, name="g", extra_opsets=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits),
                              value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + list(extra_opsets)
    m = helper.make_model(graph, opset_imports=opsets, producer_name="freeact-tests")
    m.ir_version = 8
    return m


def save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    assert os.path.getsize(path) < 50 * 1024, path


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def mlp():
    """x[B,4] -> MatMul W1 -> Add b1 -> Relu -> MatMul W2 -> y[B,2]."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "W1")  # raw_data
    b1 = helper.make_tensor("b1", TensorProto.FLOAT, [8], [0.5 * i for i in range(8)])  # float_data
    w2 = numpy_helper.from_array(rng.standard_normal((8, 2)).astype(np.float32), "W2")
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="act"),
        helper.make_node("MatMul", ["h2", "W2"], ["y"], name="fc2"),
    ]
    return model(nodes, [vi("x", TensorProto.FLOAT, ["B", 4])],
                 [vi("y", TensorProto.FLOAT, ["B", 2])], [w1, b1, w2], name="mlp")


def external(location, offset=0, length=None, name="W", dims=(4, 8)):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    entries = [("location", location), ("offset", str(offset))]
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def ext_model(location, offset=0, length=128):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="proj")]
    return model(nodes, [vi("x", TensorProto.FLOAT, [2, 4])], [vi("y", TensorProto.FLOAT, [2, 8])],
                 [external(location, offset, length)], name="ext")


def symbolic():
    """Symbolic and unknown dims, value_info, Constant forms, an input overridden by an
    initializer, an omitted optional input, typed int32_data for f16, Cast and Shape."""
    scale = helper.make_tensor("scale", TensorProto.FLOAT16, [3], [1.0, 2.0, 3.0])  # int32_data
    alpha = numpy_helper.from_array(np.array([2.0], np.float32), "alpha")
    nodes = [
        helper.make_node("Constant", [], ["two"], name="c_two", value_float=2.0),
        helper.make_node("Constant", [], ["axes"], name="c_axes", value_ints=[0]),
        helper.make_node("Constant", [], ["bias"], name="c_bias",
                         value=numpy_helper.from_array(np.ones((3,), np.float32))),
        helper.make_node("Mul", ["x", "two"], ["m"], name="scale2"),
        helper.make_node("Mul", ["m", "alpha"], ["m2"], name="scale_alpha"),
        helper.make_node("Add", ["m2", "bias"], ["a"], name="add_bias"),
        helper.make_node("Clip", ["a", "", "two"], ["c"], name="clip_max"),
        helper.make_node("Softmax", ["c"], ["s"], name="softmax", axis=-1),
        helper.make_node("Cast", ["s"], ["h"], name="to_f16", to=TensorProto.FLOAT16),
        helper.make_node("Mul", ["h", "scale"], ["y"], name="mul_scale"),
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("ReduceSum", ["x", "axes"], ["r"], name="rsum", keepdims=1),
    ]
    inputs = [vi("x", TensorProto.FLOAT, ["batch", None, 3]), vi("alpha", TensorProto.FLOAT, [1])]
    outputs = [vi("y", TensorProto.FLOAT16, ["batch", None, 3]), vi("shp", TensorProto.INT64, [3]),
               vi("r", TensorProto.FLOAT, [1, None, 3])]
    value_info = [vi("a", TensorProto.FLOAT, ["batch", "seq", 3])]
    return model(nodes, inputs, outputs, [scale, alpha], value_info, name="symbolic")


def opset11():
    """Opset-11 forms: axes and split as attributes; shape rules for the data-movement ops."""
    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "shape")
    starts = numpy_helper.from_array(np.array([1], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([-1], np.int64), "ends")
    nodes = [
        helper.make_node("Unsqueeze", ["x"], ["u"], name="unsq", axes=[0]),
        helper.make_node("Squeeze", ["u"], ["q"], name="sq", axes=[0]),
        helper.make_node("Split", ["q"], ["s0", "s1"], name="split", axis=1, split=[2, 4]),
        helper.make_node("Concat", ["s1", "s0"], ["c"], name="concat", axis=1),
        helper.make_node("Transpose", ["c"], ["t"], name="tr", perm=[1, 0]),
        helper.make_node("ReduceSum", ["t"], ["r"], name="rsum", axes=[1], keepdims=0),
        helper.make_node("Reshape", ["c", "shape"], ["rs"], name="reshape"),
        helper.make_node("Slice", ["rs", "starts", "ends"], ["sl"], name="slice"),
        helper.make_node("Gather", ["c", "starts"], ["g"], name="gather", axis=1),
        helper.make_node("ArgMax", ["c"], ["am"], name="argmax", axis=1, keepdims=0),
    ]
    outs = [vi(n, TensorProto.FLOAT, None) for n in ("r", "sl", "g")]
    outs.append(vi("am", TensorProto.INT64, None))
    return model(nodes, [vi("x", TensorProto.FLOAT, ["N", 6])], outs, [shape, starts, ends],
                 opset=11, name="opset11")


def matmul_nbits():
    """com.microsoft MatMulNBits: 4-bit weights, N=8, K=16, blocks of 16."""
    b = numpy_helper.from_array(np.arange(8 * 1 * 8, dtype=np.uint8).reshape(8, 1, 8), "B")
    scales = numpy_helper.from_array(np.full(8, 0.5, np.float32), "scales")
    node = helper.make_node("MatMulNBits", ["A", "B", "scales"], ["Y"], name="q_proj",
                            domain="com.microsoft", K=16, N=8, bits=4, block_size=16)
    return model([node], [vi("A", TensorProto.FLOAT, ["T", 16])],
                 [vi("Y", TensorProto.FLOAT, ["T", 8])], [b, scales], name="nbits",
                 extra_opsets=[helper.make_opsetid("com.microsoft", 1)])


def one_node(node, inputs, outputs, inits=(), value_info=(), opset=OPSET):
    return model([node], inputs, outputs, inits, value_info, opset=opset)


def relu_model(**kw):
    return one_node(helper.make_node("Relu", ["x"], ["y"], name="act", **kw),
                    [vi("x", TensorProto.FLOAT, [2])], [vi("y", TensorProto.FLOAT, [2])])


def bad_models():
    f2 = [vi("x", TensorProto.FLOAT, [2])]
    y2 = [vi("y", TensorProto.FLOAT, [2])]
    yield "unknown_op", one_node(helper.make_node("FooBar", ["x"], ["y"], name="mystery"), f2, y2)
    yield "unsupported_attr", relu_model(alpha=1.0)
    yield "attr_wrong_type", one_node(
        helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1.5), f2, y2)
    yield "cast_to_string", one_node(
        helper.make_node("Cast", ["x"], ["y"], name="cast", to=TensorProto.STRING), f2, y2)
    yield "opset_18", model([helper.make_node("Relu", ["x"], ["y"], name="act")], f2, y2, opset=18)
    # Opset 9's Slice took starts/ends as attributes; the IR has the opset-10 form.
    yield "slice_opset9", model([helper.make_node("Slice", ["x"], ["y"], name="cut", starts=[0],
                                                  ends=[1])], f2, y2, opset=9)
    yield "ext_dotdot", ext_model("../x.bin")
    yield "ext_absolute", ext_model("/etc/passwd")
    yield "ext_missing", ext_model("missing.bin")
    yield "ext_out_of_range", ext_model("short.bin", offset=64)
    yield "ext_length_mismatch", ext_model("short.bin", length=64)
    big = TensorProto()
    big.name, big.data_type = "W", TensorProto.FLOAT
    big.dims.extend([2**40, 2**40])
    yield "overflow_shape", one_node(helper.make_node("Add", ["x", "W"], ["y"], name="add"), f2, y2,
                                     [big])
    raw = TensorProto()
    raw.name, raw.data_type, raw.raw_data = "W", TensorProto.FLOAT, b"\x00\x01\x02"
    raw.dims.extend([2])
    yield "raw_data_size", one_node(helper.make_node("Add", ["x", "W"], ["y"], name="add"), f2, y2,
                                    [raw])
    typed = helper.make_tensor("W", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    typed.dims[0] = 4
    yield "float_data_count", one_node(helper.make_node("Add", ["x", "W"], ["y"], name="add"), f2,
                                       y2, [typed])
    s = helper.make_tensor("W", TensorProto.STRING, [1], [b"hi"])
    yield "string_tensor", one_node(helper.make_node("Add", ["x", "W"], ["y"], name="add"), f2, y2,
                                    [s])
    yield "undefined_input", one_node(helper.make_node("Add", ["x", "nope"], ["y"], name="add"), f2,
                                      y2)
    yield "value_info_conflict", one_node(helper.make_node("Relu", ["x"], ["y"], name="act"), f2,
                                          [vi("y", TensorProto.FLOAT, [3])])
    yield "broadcast_conflict", one_node(helper.make_node("Add", ["x", "z"], ["y"], name="add"),
                                         f2 + [vi("z", TensorProto.FLOAT, [3])], y2)
    yield "missing_output", one_node(helper.make_node("Relu", ["x"], ["y"], name="act"), f2,
                                     [vi("w", TensorProto.FLOAT, [2])])
    yield "too_many_inputs", one_node(helper.make_node("Relu", ["x", "x"], ["y"], name="act"), f2,
                                      y2)
    yield "unknown_ms_op", model(
        [helper.make_node("FusedGelu", ["x"], ["y"], name="gelu", domain="com.microsoft")], f2, y2,
        extra_opsets=[helper.make_opsetid("com.microsoft", 1)])
    yield "sequence_input", one_node(
        helper.make_node("Identity", ["x"], ["y"], name="id"),
        [helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [2])], y2)


def main():
    os.makedirs(BAD, exist_ok=True)
    save(mlp(), os.path.join(HERE, "mlp.onnx"))
    save(symbolic(), os.path.join(HERE, "symbolic.onnx"))
    save(opset11(), os.path.join(HERE, "opset11.onnx"))
    save(matmul_nbits(), os.path.join(HERE, "matmul_nbits.onnx"))
    w = np.arange(32, dtype=np.float32).reshape(4, 8)
    pad = np.full(4, -1.0, np.float32)  # data starts at byte 16
    with open(os.path.join(HERE, "ext_data.bin"), "wb") as f:
        f.write(pad.tobytes() + w.tobytes())
    save(ext_model("ext_data.bin", offset=16, length=128), os.path.join(HERE, "ext_data.onnx"))
    with open(os.path.join(BAD, "short.bin"), "wb") as f:
        f.write(bytes(128))
    for name, m in bad_models():
        save(m, os.path.join(BAD, name + ".onnx"))
    # Test-data tensors (TensorProto files), as in ONNX's node tests.
    t = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, "x")
    with open(os.path.join(HERE, "tensor_f32.pb"), "wb") as f:
        f.write(t.SerializeToString())
    t = helper.make_tensor("ids", TensorProto.INT64, [4], [1, -2, 3, 1 << 40])
    with open(os.path.join(HERE, "tensor_i64.pb"), "wb") as f:
        f.write(t.SerializeToString())
    # A model whose external data is a symlink out of its folder; run-bad-input.sh makes the link.
    save(ext_model("link.bin"), os.path.join(BAD, "ext_symlink.onnx"))


if __name__ == "__main__":
    main()
