/* freeact runtime: umbrella header (tensors and allocator, reference kernels, .npy I/O, the IR
 * interpreter). */
#ifndef FA_RUNTIME_RUNTIME_H
#define FA_RUNTIME_RUNTIME_H

#include "runtime/interp.h"
#include "runtime/kernels.h"
#include "runtime/npy.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

#endif
