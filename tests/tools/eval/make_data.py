#!/usr/bin/python3
# Makes the arrays for eval.test and prints the expected scores, computed here with numpy.
import numpy as np

x = np.array([[[2, 1, 0], [0, 0, 0]], [[0, 5, 0], [1, 2, 3]]], dtype=np.float32)
targets = np.array([[0, 1], [1, 2]], dtype=np.int64)
mask = np.array([[1, 1], [1, 0]], dtype=np.uint8)
ratio = np.array([0.5, 0.9], dtype=np.float32)
for name, a in [("x", x), ("targets", targets), ("mask", mask), ("ratio", ratio)]:
    np.save(name + ".npy", a)
np.save("targets_bad.npy", np.array([[0, 3], [1, 2]], dtype=np.int64))  # 3 is outside [0, 3)
np.save("mask_short.npy", mask[:1])

x = x.astype(np.float64)
logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
correct = x.argmax(-1) == targets
for label, rows in [("all", [0, 1]), ("0.5", [0]), ("0.9", [1])]:
    m = mask[rows].astype(bool)
    acc, mean_nll = correct[rows][m].mean(), nll[rows][m].mean()
    print(label, "acc %.6f nll %.6f tokens %d" % (acc, mean_nll, m.sum()))
