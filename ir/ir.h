/* The freeact IR: an SSA graph of typed values and ops (see DESIGN.md, "The IR").
 *
 * Design note. A fa_graph owns everything reachable from it through one arena: values, nodes,
 * attributes, interned strings, constant tensors (or the file mappings they live in). Values and
 * nodes carry dense ids in creation order; the printer renumbers, so text never shows pointers or
 * stale ids. Nodes sit in one doubly linked list in program order. Every value keeps its use list;
 * only the functions in this header change edges, and fa_graph_verify rebuilds the lists and
 * compares. Ops come from one table, ir/ops.def. */
#ifndef FA_IR_IR_H
#define FA_IR_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/status.h"

/* ---- dtypes ---------------------------------------------------------------------------------- */

typedef enum fa_dtype {
    FA_DT_INVALID = 0,
    FA_DT_F32,
    FA_DT_F16,
    FA_DT_BF16,
    FA_DT_F64,
    FA_DT_I64,
    FA_DT_I32,
    FA_DT_I16,
    FA_DT_I8,
    FA_DT_U64,
    FA_DT_U32,
    FA_DT_U16,
    FA_DT_U8,
    FA_DT_BOOL,
    FA_DT_I4, /* packed two per byte, low nibble first */
    FA_DT_U4,
    FA_DT_COUNT
} fa_dtype;

/* "f32", "i64", ...; "invalid" for bad values. */
const char *fa_dtype_name(fa_dtype dt);
/* Parses a dtype keyword; FA_DT_INVALID if |s| (of length |len|) is none. */
fa_dtype fa_dtype_from_name(const char *s, size_t len);
/* Bits per element (4 for i4/u4, 8 for bool). */
unsigned fa_dtype_bits(fa_dtype dt);
bool fa_dtype_is_float(fa_dtype dt);
bool fa_dtype_is_int(fa_dtype dt); /* signed or unsigned integer, bool excluded */

/* ---- shapes and types ------------------------------------------------------------------------- */

#define FA_MAX_RANK 8

/* One dimension: a static extent (sym == NULL, value >= 0), a named symbol (sym != NULL, value
 * unused), or unknown (sym == NULL, value == FA_DIM_UNKNOWN). Symbols are interned in the graph,
 * so equal symbols have equal pointers within one graph. */
#define FA_DIM_UNKNOWN (-1)
typedef struct fa_dim {
    int64_t value;
    const char *sym;
} fa_dim;

/* rank == -1 means unknown rank ("f32[*]"). */
typedef struct fa_type {
    fa_dtype dtype;
    int rank;
    fa_dim dims[FA_MAX_RANK];
} fa_type;

fa_type fa_type_make(fa_dtype dt, int rank, const int64_t *dims); /* all dims static */
/* Writes |t| as the text form does ("f32[B,?,256]", "f32[*]") into |buf|; returns |buf|. */
const char *fa_type_format(const fa_type *t, char *buf, size_t size);
bool fa_dim_is_static(fa_dim d);
bool fa_dim_equal(fa_dim a, fa_dim b); /* same static value, or same symbol */
bool fa_type_is_static(const fa_type *t); /* known rank and all dims static */
bool fa_type_equal(const fa_type *a, const fa_type *b);
/* Product of the static dims; FA_STATUS_INVALID_ARGUMENT if not static or it overflows. */
fa_status fa_type_num_elements(const fa_type *t, uint64_t *out_n);
/* Bytes for a static type (i4 rounds up); overflow-checked like fa_type_num_elements. */
fa_status fa_type_num_bytes(const fa_type *t, uint64_t *out_bytes);

/* ---- ops -------------------------------------------------------------------------------------- */

typedef enum fa_op {
#define FA_OP(id, name, onnx, domain, min_in, max_in, min_out, max_out, flags, attrs, shape) FA_OP_##id,
#include "ir/ops.def"
#undef FA_OP
    FA_OP_COUNT
} fa_op;

#define FA_ARITY_VARIADIC 255

enum fa_op_flags {
    FA_OPF_NONE = 0,
    FA_OPF_COMMUTATIVE = 1u << 0, /* binary op whose operands may be swapped */
    FA_OPF_ELEMENTWISE = 1u << 1, /* broadcasting elementwise op */
    FA_OPF_FREEACT = 1u << 2,     /* our own op, not from ONNX */
};

struct fa_node;
struct fa_value;
/* Computes the result types of |n| from its operands and attributes. Writes n->num_results
 * types to |out|. Dims that cannot be known stay FA_DIM_UNKNOWN. */
typedef fa_status (*fa_shape_fn)(const struct fa_node *n, fa_type *out);

typedef struct fa_op_info {
    const char *name;        /* IR spelling, snake_case */
    const char *onnx_name;   /* ONNX op_type, NULL for freeact ops */
    const char *onnx_domain; /* "" for the default domain */
    uint8_t min_in, max_in, min_out, max_out;
    unsigned flags;
    /* Allowed attributes, space separated "name:kind", kind one of int float string ints floats
     * strings tensor; a trailing '!' marks a required one. */
    const char *attrs;
    fa_shape_fn shape; /* NULL: no rule yet */
} fa_op_info;

const fa_op_info *fa_op_get(fa_op op);
/* Looks an op up by IR name; returns false if there is none. */
bool fa_op_from_name(const char *name, size_t len, fa_op *out);
/* Looks an op up by ONNX domain ("" or "ai.onnx" for the default) and op_type. */
bool fa_op_from_onnx(const char *domain, const char *op_type, fa_op *out);

/* ---- attributes and constants ----------------------------------------------------------------- */

typedef enum fa_attr_kind {
    FA_ATTR_INT,
    FA_ATTR_FLOAT,
    FA_ATTR_STRING,
    FA_ATTR_INTS,
    FA_ATTR_FLOATS,
    FA_ATTR_STRINGS,
    FA_ATTR_TENSOR,
} fa_attr_kind;

const char *fa_attr_kind_name(fa_attr_kind k);

/* Walks an op's attribute spec (fa_op_info.attrs): call with *cursor = info->attrs; each call
 * yields the next attribute's name (NUL-terminated into |name|, |size| >= 64), kind and whether
 * it is required, and returns false at the end. */
bool fa_op_attr_spec_next(const char **cursor, char *name, size_t size, fa_attr_kind *out_kind,
                          bool *out_required);
/* Whether |op| allows attribute |name|, and of which kind. */
bool fa_op_attr_spec(fa_op op, const char *name, fa_attr_kind *out_kind, bool *out_required);
/* "2", "1 to 3" or "at least 1", for arity messages. */
void fa_arity_format(unsigned lo, unsigned hi, char *buf, size_t size);

/* Where a constant's bytes live. */
typedef enum fa_storage {
    FA_STORAGE_ARENA,    /* copied into the graph's arena */
    FA_STORAGE_MAPPED,   /* inside a read-only file mapping owned by the graph */
    FA_STORAGE_BORROWED, /* caller memory that outlives the graph */
} fa_storage;

/* A constant tensor: static type, immutable bytes. For MAPPED storage, |file| (as written in the
 * source, relative to its folder) and |offset| say where the bytes came from, so the printer can
 * keep the reference instead of inlining the data. */
typedef struct fa_tensor {
    fa_type type;
    const void *data;
    uint64_t nbytes;
    fa_storage storage;
    const char *file;
    uint64_t offset;
} fa_tensor;

typedef struct fa_attr {
    const char *name;
    fa_attr_kind kind;
    union {
        int64_t i;
        double f;
        const char *s;
        struct {
            const int64_t *v;
            uint32_t n;
        } ints;
        struct {
            const double *v;
            uint32_t n;
        } floats;
        struct {
            const char *const *v;
            uint32_t n;
        } strings;
        const fa_tensor *t;
    } u;
} fa_attr;

/* ---- values and nodes ------------------------------------------------------------------------- */

typedef enum fa_value_kind {
    FA_VALUE_INPUT,  /* graph input */
    FA_VALUE_CONST,  /* graph-owned constant tensor, printed as @name */
    FA_VALUE_RESULT, /* result of a node */
} fa_value_kind;

typedef struct fa_use {
    struct fa_node *node;
    uint32_t operand;
} fa_use;

typedef struct fa_value {
    uint32_t id;
    fa_value_kind kind;
    bool dead;        /* erased constant, or result of an erased node */
    const char *name; /* NULL if unnamed; constants and inputs always have one */
    fa_type type;
    struct fa_node *def;  /* defining node for RESULT values */
    uint32_t def_index;   /* which result of |def| */
    const fa_tensor *tensor; /* CONST values only */
    fa_use *uses;
    uint32_t num_uses, cap_uses;
} fa_value;

typedef struct fa_node {
    uint32_t id;
    fa_op op;
    bool dead;
    const char *name; /* source name (ONNX node name), NULL if none; for diagnostics */
    fa_value **operands; /* an entry may be NULL: an omitted optional operand */
    uint32_t num_operands;
    fa_value **results;
    uint32_t num_results;
    fa_attr *attrs; /* sorted by name, unique names */
    uint32_t num_attrs, cap_attrs;
    struct fa_node *prev, *next;
} fa_node;

typedef struct fa_output {
    const char *name;
    fa_value *value;
} fa_output;

struct fa_arena;
typedef struct fa_graph fa_graph;

/* ---- graph ------------------------------------------------------------------------------------ */

/* Creates an empty graph named |name| (copied). The caller owns it; fa_graph_destroy frees it and
 * everything in it. Out of memory anywhere in the IR is fatal (fa_fatal). */
fa_graph *fa_graph_create(const char *name);
void fa_graph_destroy(fa_graph *g);

const char *fa_graph_name(const fa_graph *g);
void fa_graph_set_name(fa_graph *g, const char *name);
/* Copies |len| bytes of |s| (NUL added) into the arena, interned: equal strings give the same
 * pointer, so symbols compare by pointer. */
const char *fa_graph_intern(fa_graph *g, const char *s, size_t len);
const char *fa_graph_intern_cstr(fa_graph *g, const char *s);
/* Arena allocation, zeroed, 16-byte aligned (64 for sizes >= 64); lives as long as the graph. */
void *fa_graph_alloc(fa_graph *g, size_t size);

fa_node *fa_graph_first_node(const fa_graph *g);
fa_node *fa_graph_last_node(const fa_graph *g);
uint32_t fa_graph_num_nodes(const fa_graph *g); /* live nodes */
/* Every value ever created, by id; dead ones have a dead defining node. */
uint32_t fa_graph_num_values(const fa_graph *g);
fa_value *fa_graph_value(const fa_graph *g, uint32_t id);

uint32_t fa_graph_num_inputs(const fa_graph *g);
fa_value *fa_graph_input(const fa_graph *g, uint32_t i);
uint32_t fa_graph_num_consts(const fa_graph *g);
fa_value *fa_graph_const(const fa_graph *g, uint32_t i);
uint32_t fa_graph_num_outputs(const fa_graph *g);
const fa_output *fa_graph_output(const fa_graph *g, uint32_t i);

/* Finds an input, constant or named result value by name; NULL if none. */
fa_value *fa_graph_find_value(const fa_graph *g, const char *name);

/* Adds a graph input (appended). |name| is copied. */
fa_value *fa_graph_add_input(fa_graph *g, const char *name, const fa_type *type);
/* Adds a constant whose |nbytes| bytes at |data| are copied into the arena. |type| must be static
 * and |nbytes| must equal its byte size (checked: FA_STATUS_INVALID_ARGUMENT). */
fa_status fa_graph_add_const(fa_graph *g, const char *name, const fa_type *type, const void *data,
                             uint64_t nbytes, fa_value **out_value);
/* Adds a constant whose bytes stay in caller memory that must outlive |g|. */
fa_status fa_graph_add_const_borrowed(fa_graph *g, const char *name, const fa_type *type,
                                      const void *data, uint64_t nbytes, fa_value **out_value);
/* Adds a constant whose bytes are read from |path| at |offset| by mapping the file read-only; the
 * graph keeps the mapping until destroyed. |path| is opened as given; |recorded_path| is what the
 * printer writes back (usually relative to the .fir file). Errors name the file. */
fa_status fa_graph_add_const_mapped(fa_graph *g, const char *name, const fa_type *type,
                                    const char *path, const char *recorded_path, uint64_t offset,
                                    fa_value **out_value);
/* Makes a tensor (for tensor attributes) whose bytes are copied into the arena. */
fa_status fa_graph_make_tensor(fa_graph *g, const fa_type *type, const void *data, uint64_t nbytes,
                               const fa_tensor **out_tensor);

/* Appends a graph output named |name| (copied) that reads |v|. */
void fa_graph_add_output(fa_graph *g, const char *name, fa_value *v);
void fa_graph_set_output_value(fa_graph *g, uint32_t i, fa_value *v);
/* True if |v| is read by a graph output. */
bool fa_value_is_output(const fa_graph *g, const fa_value *v);

/* Creates a node of |op| with |num_operands| operands (entries may be NULL) and |num_results|
 * results of the given types, and inserts it before |before| (NULL: at the end). Result values
 * are unnamed. Arity is not checked here; the verifier does that. */
fa_node *fa_graph_create_node(fa_graph *g, fa_node *before, fa_op op, fa_value *const *operands,
                              uint32_t num_operands, const fa_type *result_types,
                              uint32_t num_results);
/* Unlinks |n| and marks it dead; its operand uses are dropped. Its results must have no uses
 * and must not be graph outputs (asserted). */
void fa_graph_erase_node(fa_graph *g, fa_node *n);
/* Removes the constant |v| from the graph (its bytes stay in the arena until the graph dies).
 * It must have no uses and not be a graph output (asserted). */
void fa_graph_erase_const(fa_graph *g, fa_value *v);
/* Moves |n| before |before| (NULL: to the end). */
void fa_graph_move_node(fa_graph *g, fa_node *n, fa_node *before);
/* Renumbers value and node ids densely in program order (inputs, constants, then results) and
 * drops dead entries from the id tables. Pointers stay valid. */
void fa_graph_compact(fa_graph *g);

void fa_node_set_name(fa_graph *g, fa_node *n, const char *name);
void fa_node_set_operand(fa_graph *g, fa_node *n, uint32_t i, fa_value *v);
void fa_value_set_name(fa_graph *g, fa_value *v, const char *name);
/* Redirects every use of |from| (node operands and graph outputs) to |to|. O(uses). */
void fa_value_replace_uses(fa_graph *g, fa_value *from, fa_value *to);
bool fa_value_has_uses(const fa_value *v);

/* Attributes: setters replace an attribute of the same name. Arrays and strings are copied. */
void fa_node_set_attr_int(fa_graph *g, fa_node *n, const char *name, int64_t v);
void fa_node_set_attr_float(fa_graph *g, fa_node *n, const char *name, double v);
void fa_node_set_attr_string(fa_graph *g, fa_node *n, const char *name, const char *v);
void fa_node_set_attr_ints(fa_graph *g, fa_node *n, const char *name, const int64_t *v, uint32_t k);
void fa_node_set_attr_floats(fa_graph *g, fa_node *n, const char *name, const double *v,
                             uint32_t k);
void fa_node_set_attr_strings(fa_graph *g, fa_node *n, const char *name, const char *const *v,
                              uint32_t k);
void fa_node_set_attr_tensor(fa_graph *g, fa_node *n, const char *name, const fa_tensor *t);
bool fa_node_remove_attr(fa_node *n, const char *name);
/* Lent; NULL if absent. */
const fa_attr *fa_node_attr(const fa_node *n, const char *name);
int64_t fa_node_attr_int(const fa_node *n, const char *name, int64_t dflt);
double fa_node_attr_float(const fa_node *n, const char *name, double dflt);
const char *fa_node_attr_string(const fa_node *n, const char *name, const char *dflt);
bool fa_attr_equal(const fa_attr *a, const fa_attr *b);
bool fa_tensor_equal(const fa_tensor *a, const fa_tensor *b);

/* "model.fir: node 'q_proj' (matmul)"-style place of |n| for diagnostics, written into |buf|. */
const char *fa_node_describe(const fa_node *n, char *buf, size_t size);

/* ---- shape inference -------------------------------------------------------------------------- */

/* Runs the op's shape rule on |n|; FA_OK with *out_has_rule = false if the op has none. */
fa_status fa_node_infer_types(const fa_node *n, fa_type *out, bool *out_has_rule);
/* Broadcasts two shapes by ONNX's multidirectional rule; error if incompatible. */
fa_status fa_shape_broadcast(const fa_type *a, const fa_type *b, fa_type *out);

/* ---- verifier, printer, parser ---------------------------------------------------------------- */

/* Checks every invariant (see ir/verify.c). Returns the first violation, naming the node. */
fa_status fa_graph_verify(const fa_graph *g);
/* The checks that need only |n| itself: arity, result links, attributes against ops.def, result
 * types against the shape rule. */
fa_status fa_node_verify_local(const fa_node *n);

typedef struct fa_print_options {
    /* Constants up to this many bytes print inline; bigger ones too unless they are MAPPED, in
     * which case their file reference is kept. */
    uint64_t inline_limit;
    bool elide_large; /* print big inline constants as "dense_elided" (not parseable) */
    /* When set, every constant bigger than |inline_limit| bytes (mapped ones included) is written
     * to this FILE* at a 64-byte aligned offset and printed as file<"data_file_name", offset>;
     * |data_file_name| is the reference as the .fir should record it (relative to the .fir's
     * folder). Write errors are reported as FA_STATUS_IO. */
    void *data_file;
    const char *data_file_name;
} fa_print_options;

/* Prints |g| in textual form. The output is deterministic. Returns FA_STATUS_IO on write errors. */
fa_status fa_graph_print(const fa_graph *g, const fa_print_options *opts, void *file /* FILE* */);
/* Prints into a malloc'ed string that the caller frees. */
char *fa_graph_print_to_string(const fa_graph *g, const fa_print_options *opts);

/* Parses one graph from |text| (|len| bytes). |filename| is used in diagnostics, which have the
 * form "file:line:col: error: message"; |base_dir| is where relative file<> references resolve
 * (NULL: current folder). On success the caller owns *out_graph. |line_offset| is added to line
 * numbers (for split input files). The result is verified. */
fa_status fa_graph_parse(const char *text, size_t len, const char *filename, const char *base_dir,
                         int line_offset, fa_graph **out_graph);
/* Like fa_graph_parse (no line offset), but every file<"...", offset> constant is the |nbytes|
 * bytes at |offset| of the in-memory |blob| (|blob_len| bytes, which must outlive the graph;
 * the constants borrow it), whatever file name the text records: how an AOT library reads the
 * model and weights compiled into it. */
fa_status fa_graph_parse_blob(const char *text, size_t len, const char *filename,
                              const void *blob, uint64_t blob_len, fa_graph **out_graph);

#endif
