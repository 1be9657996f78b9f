/* simulator/train_framework.c — the training recipe around the layers' kernels (docs/frameworks.md).
 *
 * A framework is counted, not timed: kernels per layer and per edge that its host issues, bytes its
 * extra passes move (autocast weight and gradient casts, fp32 residual stream and norms, gradient
 * accumulation), buffers its loss keeps. Seconds come only from the named figures in
 * fl_train_fw_params (host seconds per kernel, checkpoint bookkeeping, fixed cost per iteration)
 * and from the GPU's datasheet through fl_train_gpu_perf, so a framework fitted on one GPU type
 * carries to every other.
 *
 * Defaults (before any measured row is imported):
 * - launch: eager PyTorch issues a forward op in roughly 10-20 us of Python, dispatcher and
 *   autocast, a backward op in 5-10 us of the autograd engine (PyTorch performance-tuning guide,
 *   "CUDA graphs" motivation); we take 15 us and 8 us;
 * - checkpoint bookkeeping: torch.utils.checkpoint saves and restores RNG state and runs hooks per
 *   checkpointed call; taken as 100 us per layer;
 * - loss peak (torch-amp): 16-bit logits kept by the caller, fp32 log-softmax output saved, the
 *   fp32 gradient of the NLL and of the log-softmax during backward: e + 4 + 4 + 4 bytes per logit;
 *   Megatron: 16-bit logits, fp32 log-softmax, fp32 gradient (e + 4 + 4);
 * - allocator reserve (torch-amp): 5 % of the transient bytes; Megatron keeps a flat 5 %
 *   fragmentation on everything;
 * - elementwise passes of the framework at the copy bandwidth (fraction 1) until rows say otherwise;
 * - context outside the allocator: 2.0 GB (Megatron, with its workspaces and NCCL state), 0.6 GB
 *   for a single-process PyTorch run (CUDA context and kernels of a current PyTorch on Hopper). */
#include "simulator/train_sim.h"

#include <string.h>

void fl_train_fw_defaults(fl_framework fw, fl_train_fw_params *out)
{
    memset(out, 0, sizeof *out);
    out->launch_fwd_s = 15e-6;
    out->launch_bwd_s = 8e-6;
    out->ckpt_layer_s = 100e-6;
    out->iter_fixed_s = fw == FL_FW_TORCH_AMP ? 1e-3 : 0;
    out->loss_bytes_per_logit = fw == FL_FW_TORCH_AMP ? 14 : 10;
    out->reserve_frac = fw == FL_FW_TORCH_AMP ? 0.05 : 0;
    out->context_bytes = fw == FL_FW_TORCH_AMP ? 0.6e9 : FL_TRAIN_CONTEXT_BYTES;
    out->eltwise_bw_frac = 1;
    out->opt_bw_frac = 1;
}
