#!/usr/bin/python3
# Makes legacy_softmax.onnx and x.npy: opset 11 Softmax/LogSoftmax with axis 1 on a rank-3 input,
# whose meaning (coerce to 2-D, normalize over the flattened trailing dims) differs from opset 13.
# Run from this folder with Debian's python3-onnx; prints the expected values the test checks.
import numpy as np
import onnx
from onnx import helper, TensorProto

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 3])
ys = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 2, 3]) for n in ("sm", "lsm", "last")]
nodes = [helper.make_node("Softmax", ["x"], ["sm"], name="sm", axis=1),
         helper.make_node("LogSoftmax", ["x"], ["lsm"], name="lsm"),  # default axis 1
         helper.make_node("Softmax", ["x"], ["last"], name="last", axis=2)]
g = helper.make_graph(nodes, "legacy", [x], ys)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], producer_name="freeact-tests")
onnx.checker.check_model(m)
onnx.save(m, "legacy_softmax.onnx")
xv = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
np.save("x.npy", xv)
f = xv.reshape(2, 6)
e = np.exp(f - f.max(1, keepdims=True))
sm = e / e.sum(1, keepdims=True)
print("sm", sm.reshape(-1)[:8])
print("lsm", np.log(sm).reshape(-1)[:8])
