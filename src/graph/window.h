/* window.h - the sliding-window geometry of Conv and pooling nodes (ONNX auto_pad / ceil_mode rules).
**
** Public so that other layers evaluating these ops (the MPC runner) compute exactly the executor's
** output sizes and padding. A window is computed once from a node's attributes and its input's
** spatial dims; unknown input dims (-1) give unknown output dims. */
#ifndef PN_WINDOW_H
#define PN_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/op_def.h"

struct pn_window {
  int nsp;                          /* number of spatial dims */
  int64_t in[PN_MAX_DIMS];          /* input spatial dims (-1 unknown) */
  int64_t k[PN_MAX_DIMS];           /* kernel (-1 unknown) */
  int64_t s[PN_MAX_DIMS];           /* strides */
  int64_t d[PN_MAX_DIMS];           /* dilations */
  int64_t pb[PN_MAX_DIMS];          /* pads at the beginning (-1 unknown: SAME with unknown dims) */
  int64_t pe[PN_MAX_DIMS];          /* pads at the end */
  int64_t out[PN_MAX_DIMS];         /* output spatial dims (-1 unknown) */
};

enum pn_window_kind { PN_WIN_CONV, PN_WIN_POOL };

/* Read strides/dilations/pads/auto_pad (and ceil_mode for pools) of a->node and compute the
** output size. w->nsp, w->in and w->k must be set by the caller (k known for pools; a -1 kernel
** dim leaves that output dim unknown). dilations are read only when has_dilations. Errors name
** the attribute (PN_ERR_INVALID) or an unsupported value (PN_ERR_UNSUPPORTED). */
int pn_window_init(const struct pn_op_args *a, enum pn_window_kind kind, bool has_dilations,
                   struct pn_window *w);

/* Read kernel_shape into w->k: required for pools, optional for Conv (then w->k is left as the
** caller set it, from W). Checks the length against w->nsp and the values (> 0). */
int pn_window_kernel(const struct pn_op_args *a, bool required, struct pn_window *w);

#endif
