/* simulator/train_framework.c — the training recipe around the layers' kernels (docs/frameworks.md).
 *
 * A framework is counted, not timed: kernels per layer and per edge that its host issues, bytes its
 * extra passes move (autocast weight and gradient casts, fp32 residual stream and norms, gradient
 * accumulation), buffers its loss keeps. Seconds come only from the named figures in
 * fl_train_fw_params (host seconds per kernel, checkpoint bookkeeping, fixed cost per iteration)
 * and from the GPU's datasheet through fl_train_gpu_perf, so a framework fitted on one GPU type
 * carries to every other.
 *
 * Defaults (before any measured row is imported of a catalog):
 * - Megatron: host 15 us per forward and 8 us per backward kernel (eager PyTorch issues a
 *   forward op in roughly 10-20 us of Python and dispatch, a backward op in 5-10 us of the
 *   autograd engine), 100 us of checkpoint bookkeeping per layer; its large fused kernels keep it
 *   GPU-bound in every published run we check (bench/train_sim);
 * - torch-amp: the figures fitted once to the 15 measured H100 iterations of
 *   tests/data/calibration/h100-sxm-80gb.models.jsonl (with its layer rows; `flotilla profiles
 *   calibrate` reproduces them), rounded: 47 us / 25 us per kernel, 1.6 ms of checkpoint
 *   bookkeeping per layer (non-reentrant torch.utils.checkpoint with RNG state and hooks), the
 *   framework's elementwise passes at 0.78 of the copy bandwidth, 10.7 live bytes per logit at the
 *   loss peak, an allocator reserve of 10 % of the transient bytes. Host seconds carry to any GPU;
 *   the leave-one-model-out error of these figures is in bench/train_sim/ACCURACY.md;
 * - context outside the allocator: 2.0 GB (Megatron, with its workspaces and NCCL state), 0.6 GB
 *   for a single-process PyTorch run (CUDA context and kernels of a current PyTorch on Hopper). */
#include "simulator/train_sim.h"

#include <string.h>

void fl_train_fw_defaults(fl_framework fw, fl_train_fw_params *out)
{
    memset(out, 0, sizeof *out);
    out->eltwise_bw_frac = 1;
    out->opt_bw_frac = 1;
    if (fw == FL_FW_TORCH_AMP) {
        out->launch_fwd_s = 47e-6;
        out->launch_bwd_s = 25e-6;
        out->ckpt_layer_s = 1.6e-3;
        out->iter_fixed_s = 0;
        out->loss_bytes_per_logit = 10.7;
        out->reserve_frac = 0.10;
        out->context_bytes = 0.6e9;
        out->eltwise_bw_frac = 0.78;
        return;
    }
    out->launch_fwd_s = 15e-6;
    out->launch_bwd_s = 8e-6;
    out->ckpt_layer_s = 100e-6;
    out->loss_bytes_per_logit = 10;
    out->context_bytes = FL_TRAIN_CONTEXT_BYTES;
}
