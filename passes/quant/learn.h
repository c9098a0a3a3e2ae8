/* Learned transforms for one site (FlatQuant's shared Kronecker transform, FreeAct's shared
 * transform with per-type exclusive channels, freeact-ns's null-space term): AdamW on the site's
 * quantized-output error with a straight-through estimator, our own gradients on OpenBLAS. Called
 * by fa_qsite_solve; see qsite.h for the conventions. */
#ifndef FA_PASSES_QUANT_LEARN_H
#define FA_PASSES_QUANT_LEARN_H

#include "passes/quant/qsite.h"

/* Fits the transform of |method| (FA_QMETHOD_FLATQUANT, _FREEACT or _FREEACT_NS) to |data|.
 * |out| comes with d, n, num_types set and a ([num_types, d, d]) and m ([d, d]) allocated; this
 * fills a, m, act_clip, kinds, exclusive and identity = false, and writes the learned weight clip
 * ratio of every weight row into |w_clip| ([n], each in (0, 1]). It does not set wq / w_scale:
 * the caller quantizes W Mᵀ with those clip ratios. Errors name the site. */
fa_status fa_qlearn_fit(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                        fa_qsite_result *out, float *w_clip);

#endif
