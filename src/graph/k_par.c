/* k_par.c - parallel-for over chunks for the dense kernels: a persistent helper pool in which
** the caller never waits for a helper that has not started.
**
** An OpenMP parallel loop ends with a barrier that every thread of the team must reach, so on a
** machine shared with other work a run waits, per region, for the most-delayed thread to be
** scheduled (resnet18 with 2 threads ran 3-5x slower than with one under load). Here chunks are
** claimed from one atomic counter: the caller starts at once, a helper takes whatever is left
** when it wakes, and the caller waits only for chunks already claimed. A helper that wakes after
** the last claim finds nothing and goes back to sleep; the worst case is the serial time plus one
** chunk. The caller claims from the front and helpers from the back, so that with the same timing
** each thread runs the same part of a node's work in every run (the same filter blocks, hence the
** same weights in its own caches) while the split still follows who is running. One job runs at a
** time; a call made while another is in flight (another thread, or from inside a chunk) runs
** serially. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "graph/k_dense.h"

#define PAR_MAX_HELPERS 63

static pthread_mutex_t par_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t par_work = PTHREAD_COND_INITIALIZER, par_done = PTHREAD_COND_INITIALIZER;
static int par_helpers;                 /* started helper threads */
static bool par_busy;                   /* a job is in flight */
static uint32_t par_gen;                /* job generation (under par_mu) */
static int par_tickets;                 /* helpers still allowed to join the current job */
static pn_par_fn par_fn;                /* the current job (under par_mu) */
static void *par_arg;
static int64_t par_n;
static _Atomic uint64_t par_next;       /* generation << 32 | lo << 16 | hi: chunks [lo, hi) unclaimed */
static _Atomic int64_t par_finished;    /* chunks of the current job completed */

#define PAR_MAX_CHUNKS 0xffff   /* lo and hi are 16 bits; pn_par_for folds larger jobs */

/* A chunk of job generation g from the front (the caller) or the back (helpers), or -1 when none
** is left or the job is over. */
static int64_t claim(uint32_t g, bool back) {
  uint64_t v = atomic_load(&par_next);
  for (;;) {
    uint64_t lo = v >> 16 & 0xffff, hi = v & 0xffff;
    if ((uint32_t)(v >> 32) != g || lo >= hi) return -1;
    if (atomic_compare_exchange_weak(&par_next, &v, back ? v - 1 : v + 0x10000))
      return (int64_t)(back ? hi - 1 : lo);
  }
}

static void run_chunks(uint32_t g, pn_par_fn fn, void *arg, int64_t n, bool back) {
  int64_t c;
  while ((c = claim(g, back)) >= 0) {
    fn(arg, c);
    if (atomic_fetch_add(&par_finished, 1) + 1 == n) {
      pthread_mutex_lock(&par_mu);
      pthread_cond_broadcast(&par_done);
      pthread_mutex_unlock(&par_mu);
    }
  }
}

static void cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* After a job, a helper watches for the next one for a short while (PAR_SPIN pauses: 0.4 ms at
** ~20 ns a pause, 1.6 ms measured on the loaded 2-core machine) before it sleeps: the kernels of
** one inference follow each other closely, and a helper woken from its condition variable on a
** busy machine started late, when the caller had claimed most chunks (resnet18/224 on 2 threads,
** prioritised, load ~10: median 18.5-21.8 ms -> 15.7-16.5 ms; 4000 and 8000 pauses gained less;
** one thread: ~21 ms). Between inferences, and after any longer gap, helpers sleep. */
#ifndef PAR_SPIN
#define PAR_SPIN 20000
#endif
static void par_spin_next(uint32_t seen) {
  for (int spin = 0; spin < PAR_SPIN; spin++) {
    if ((uint32_t)(atomic_load_explicit(&par_next, memory_order_relaxed) >> 32) != seen) return;
    cpu_pause();
  }
}

static void *helper_main(void *unused) {
  (void)unused;
  uint32_t seen = 0;
  pthread_mutex_lock(&par_mu);
  for (;;) {
    while (par_gen == seen || par_tickets <= 0) {
      if (par_gen != seen) seen = par_gen;   /* a job that has all the helpers it wants */
      pthread_cond_wait(&par_work, &par_mu);
    }
    seen = par_gen;
    par_tickets--;
    pn_par_fn fn = par_fn;
    void *arg = par_arg;
    int64_t n = par_n;
    pthread_mutex_unlock(&par_mu);
    run_chunks(seen, fn, arg, n, true);
    par_spin_next(seen);
    pthread_mutex_lock(&par_mu);
  }
  return NULL;
}

/* More chunks than a job holds: runs of consecutive chunks, each run one chunk of the job. */
struct par_fold {
  pn_par_fn fn;
  void *arg;
  int64_t n, per;
};
static void fold_chunk(void *arg, int64_t c) {
  const struct par_fold *f = arg;
  for (int64_t i = c * f->per; i < f->n && i < (c + 1) * f->per; i++) f->fn(f->arg, i);
}

void pn_par_for(int threads, int64_t nchunk, pn_par_fn fn, void *arg) {
  if (nchunk <= 0) return;
  if (threads > 1 && nchunk > PAR_MAX_CHUNKS) {
    struct par_fold f = {fn, arg, nchunk, (nchunk + PAR_MAX_CHUNKS - 1) / PAR_MAX_CHUNKS};
    pn_par_for(threads, (nchunk + f.per - 1) / f.per, fold_chunk, &f);
    return;
  }
  bool par = threads > 1 && nchunk > 1;
  uint32_t g = 0;
  if (par) {
    pthread_mutex_lock(&par_mu);
    if (par_busy) {
      par = false;
    } else {
      int want = threads - 1 > PAR_MAX_HELPERS ? PAR_MAX_HELPERS : threads - 1;
      while (par_helpers < want) {
        pthread_t t;
        pthread_attr_t at;
        if (pthread_attr_init(&at)) break;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, helper_main, NULL);
        pthread_attr_destroy(&at);
        if (rc) break;
        par_helpers++;
      }
      par = par_helpers > 0;
      if (par) {
        par_busy = true;
        g = ++par_gen;
        if (g == 0) g = ++par_gen;   /* 0 is a helper's "seen nothing yet" */
        par_fn = fn;
        par_arg = arg;
        par_n = nchunk;
        par_tickets = want < par_helpers ? want : par_helpers;
        atomic_store(&par_finished, 0);
        atomic_store(&par_next, (uint64_t)g << 32 | (uint64_t)nchunk);
        pthread_cond_broadcast(&par_work);
      }
    }
    pthread_mutex_unlock(&par_mu);
  }
  if (!par) {
    for (int64_t c = 0; c < nchunk; c++) fn(arg, c);
    return;
  }
  run_chunks(g, fn, arg, nchunk, false);
  /* wait only for chunks that helpers have claimed and not finished */
  for (int spin = 0; spin < 2000 && atomic_load(&par_finished) < nchunk; spin++)
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    ;
#endif
  pthread_mutex_lock(&par_mu);
  while (atomic_load(&par_finished) < nchunk) pthread_cond_wait(&par_done, &par_mu);
  par_busy = false;
  pthread_mutex_unlock(&par_mu);
}
