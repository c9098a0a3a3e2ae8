/* Which opsets of the default ONNX domain each op can be imported from. The IR gives every op the
 * meaning of its schema at opsets 11-17; an older model is accepted for an op only from the
 * opset where that meaning began (ONNX's operator changelog), so nothing is imported with
 * different semantics. Ops not listed need opset 11. */
#include <string.h>

#include "frontend/onnx_internal.h"

static const struct {
    const char *op;
    int since;
} since_table[] = {
    /* Numpy-style broadcasting arrived in opset 7 (8 for the variadic ops). */
    {"Add", 7}, {"Sub", 7}, {"Mul", 7}, {"Div", 7}, {"Pow", 7}, {"And", 7}, {"Or", 7},
    {"Xor", 7}, {"Equal", 7}, {"Less", 7}, {"Greater", 7}, {"PRelu", 7}, {"Gemm", 7},
    {"Max", 8}, {"Min", 8}, {"Sum", 8}, {"Mean", 8}, {"Expand", 8},
    /* Unary ops: the consumed_inputs attribute went away in opset 6. */
    {"Abs", 6}, {"Neg", 6}, {"Sqrt", 6}, {"Exp", 6}, {"Log", 6}, {"Reciprocal", 6},
    {"Floor", 6}, {"Ceil", 6}, {"Relu", 6}, {"Sigmoid", 6}, {"Tanh", 6}, {"Elu", 6},
    {"LeakyRelu", 6}, {"Selu", 6}, {"HardSigmoid", 6}, {"Cast", 6}, {"Clip", 6}, {"Tile", 6},
    {"InstanceNormalization", 6},
    {"Sin", 7}, {"Cos", 7}, {"Tan", 7}, {"Asin", 7}, {"Acos", 7}, {"Atan", 7},
    {"Sinh", 9}, {"Cosh", 9}, {"Asinh", 9}, {"Acosh", 9}, {"Atanh", 9}, {"Erf", 9},
    {"Sign", 9}, {"IsNaN", 9}, {"Shrink", 9}, {"Where", 9}, {"NonZero", 9}, {"OneHot", 9},
    {"ConstantOfShape", 9}, {"BatchNormalization", 9}, {"MeanVarianceNormalization", 9},
    {"IsInf", 10}, {"ThresholdedRelu", 10}, {"Mod", 10}, {"Slice", 10}, {"TopK", 10},
    {"QuantizeLinear", 10}, {"DequantizeLinear", 10}, {"MatMulInteger", 10},
    /* Unchanged since opset 1 (later versions only added types, negative axes or attributes
     * whose defaults keep the old meaning). */
    {"Not", 1}, {"Identity", 1}, {"Shape", 1}, {"Size", 1}, {"Transpose", 1}, {"MatMul", 1},
    {"Flatten", 1}, {"Gather", 1}, {"Squeeze", 1}, {"Unsqueeze", 1}, {"Conv", 1},
    {"GlobalAveragePool", 1}, {"GlobalMaxPool", 1}, {"DepthToSpace", 1}, {"SpaceToDepth", 1},
    {"Softplus", 1}, {"Softsign", 1}, {"ArgMax", 1}, {"ArgMin", 1}, {"ReduceMean", 1},
    {"ReduceSum", 1}, {"ReduceMax", 1}, {"ReduceMin", 1}, {"ReduceProd", 1}, {"ReduceL1", 1},
    {"ReduceL2", 1}, {"ReduceLogSum", 1}, {"ReduceLogSumExp", 1}, {"ReduceSumSquare", 1},
    {"Constant", 1},
    /* Softmax, LogSoftmax and Hardmax before opset 13 coerce the input to 2-D; the importer
     * lowers that form (onnx_import.c), so every opset works. */
    {"Softmax", 1}, {"LogSoftmax", 1}, {"Hardmax", 1},
    {"Concat", 4}, {"Reshape", 5}, {"Split", 2}, {"MaxPool", 8},
};

int fa_onnx_op_min_opset(const char *op_type) {
    for (size_t i = 0; i < sizeof since_table / sizeof since_table[0]; i++)
        if (strcmp(since_table[i].op, op_type) == 0)
            return since_table[i].since;
    return 11;
}
