/* The IR interpreter: runs an fa_graph node by node with the reference kernels. It is the
 * semantic reference for every later stage and drives calibration. This part of the runtime
 * depends on the IR; the kernels it calls do not. */
#ifndef FA_RUNTIME_INTERP_H
#define FA_RUNTIME_INTERP_H

#include "ir/ir.h"
#include "runtime/tensor.h"

/* Runs |g|. |inputs| holds one tensor per graph input, in graph-input order (|num_inputs| of
 * them; a tensor with dtype FA_DT_INVALID counts as missing). Input dtypes, ranks and static dims
 * must match the declared types exactly (more inputs than the graph has is an error); symbolic dims
 * are bound on the way in and the same symbol must have the same extent everywhere. Shapes inside
 * the graph are computed by the kernels, never taken from the IR. Constants are read in place. On
 * success |outputs| (room for fa_graph_num_outputs(g) tensors) receives the graph outputs in order,
 * allocated with |al|; the caller frees them (fa_rt_tensors_free). On error nothing is left
 * allocated and the message names the input or the node ("node 'name' (op): ..."). */
fa_status fa_rt_interp_run(const fa_graph *g, const fa_rt_tensor *inputs, uint32_t num_inputs,
                           fa_rt_tensor *outputs, const fa_rt_allocator *al);

/* Called before each node runs, with its operand tensors (n->num_operands entries, NULL for an
 * omitted optional operand), lent for the duration of the call. An error stops the run; the
 * interpreter returns it prefixed with the node, as for a kernel error. */
typedef fa_status (*fa_rt_interp_observer)(const fa_node *n, const fa_rt_tensor *const *operands,
                                           void *user);

/* fa_rt_interp_run that calls |observe| (with |user|) before each node; same contract
 * otherwise. fa_rt_interp_run is this with no observer. */
fa_status fa_rt_interp_run_observed(const fa_graph *g, const fa_rt_tensor *inputs,
                                    uint32_t num_inputs, fa_rt_tensor *outputs,
                                    const fa_rt_allocator *al, fa_rt_interp_observer observe,
                                    void *user);

/* Executes one node on already computed operands |ins| (|nin| entries, NULL for an omitted
 * optional operand). Fills |outs| (n->num_results entries); |out_owned[i]| false means outs[i]
 * borrows graph memory (a Constant node's tensor) and must not be freed. Errors name the op but
 * not the node. */
fa_status fa_rt_interp_exec_node(const fa_node *n, const fa_rt_tensor *const *ins, uint32_t nin,
                                 fa_rt_tensor *outs, bool *out_owned, const fa_rt_allocator *al);

/* Frees |n| tensors allocated with |al|. */
void fa_rt_tensors_free(fa_rt_tensor *ts, uint32_t n, const fa_rt_allocator *al);

#endif
