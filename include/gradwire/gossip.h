/*
 * gradwire gossip — asynchronous decentralized averaging (SwarmSGD).
 *
 * Nadiradze et al., "Asynchronous Decentralized SGD with Quantized and Local
 * Updates" (NeurIPS 2021). Every rank trains its own copy of the model; now and
 * then it averages with a random peer's latest *published* copy, with no
 * global round: nobody waits for anybody. A communication thread per rank
 * serves the rank's published copy to peers over MPI point-to-point while the
 * rank computes, so a busy (or 5x slower) peer does not slow its partners.
 *
 * One interaction of rank i with partner j, whose published copy is P_j:
 *   d = (x_i - P_j) / 2,  x_i <- x_i - d  (i now holds the average),
 * and d travels to j, which adds it to its model at its next gw_gossip_publish
 * (or interaction): j ends at the average plus the progress it made since it
 * published P_j. Both sides apply the same d, so the sum of the models over
 * ranks is unchanged by every interaction (up to float rounding of the two
 * additions) — the property SwarmSGD's analysis rests on.
 *
 * The model is a host float32 vector of `count` values, passed to each call;
 * the library never touches it outside a call. Calls on one gossip group come
 * from one thread. MPI must be initialized with MPI_THREAD_MULTIPLE
 * (GW_ERR_UNSUPPORTED otherwise).
 *
 * Liveness: a partner that does not answer within `timeout` seconds is
 * skipped (the interaction does nothing, a WARN line names it, the `skipped`
 * counter grows) and left out of the choice of partners for `retry` seconds.
 * Bytes from peers are validated (magic, kind, count, length, CRC32C);
 * anything else is dropped and counted in `rejected`, never applied.
 */
#ifndef GRADWIRE_GOSSIP_H
#define GRADWIRE_GOSSIP_H

#include "gradwire/gradwire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gw_gossip* gw_gossip_t;

typedef struct {
  uint64_t interactions;     /* exchanges this rank started and completed */
  uint64_t served;           /* published copies sent to peers that asked */
  uint64_t deltas_applied;   /* peers' halves of their exchanges folded into the model */
  uint64_t skipped;          /* exchanges given up: the partner did not answer in time */
  uint64_t late_replies;     /* answers that came after their exchange was given up (dropped) */
  uint64_t rejected;         /* messages that failed validation (dropped) */
  uint64_t bytes_sent;       /* gossip bytes this rank sent (headers included) */
  uint64_t bytes_received;   /* gossip bytes this rank received */
  uint64_t publishes;        /* gw_gossip_publish calls (and those inside interactions) */
  uint64_t decode_fallbacks; /* copies asked for again: codes that did not decode against the own
                                model (a wider spacing, then fp32) */
  uint64_t crossed;          /* exchanges given up because the partner was exchanging with this
                                rank at the same moment (the partner's exchange averages the two) */
  double staleness_mean_s;   /* age of a partner's published copy when it was served */
  double staleness_max_s;
  double wait_mean_s;        /* time an interaction waited for its partner's copy */
  double wait_max_s;
} gw_gossip_stats;

/*
 * Collective over comm. Config: ';'-separated key=value pairs (also from
 * GW_GOSSIP_<KEY> in the environment; the string wins):
 *   timeout  seconds to wait for a partner before skipping it (default 30; > 0)
 *   retry    seconds a skipped partner is left out of the choice (default 10)
 *   close_timeout  seconds gw_gossip_close waits for every peer (default 300)
 *   seed     seed of the partner schedule (default: gradwire's seed)
 *   codec    none | lattice:bits=B (B = 4..8): how copies and deltas travel
 *            (default none: fp32). lattice copies are decoded against the
 *            receiver's own model; one that cannot be is asked for again
 *            (at a wider spacing, then in fp32). Fewer than 4 bits add more noise
 *            than an average removes, and models drift apart.
 * Ranks that disagree on count or config get GW_ERR_MISMATCH naming them.
 */
#if GW_HAVE_MPI
GW_API gw_status gw_gossip_create(gw_gossip_t* gossip, MPI_Comm comm, size_t count, const char* config);
#endif

/* Folds the halves of exchanges peers made with this rank into model (in
 * place), then publishes a snapshot of it: what peers will average with. */
GW_API gw_status gw_gossip_publish(gw_gossip_t gossip, float* model);

/* One interaction, blocking: publish, read a random partner's published copy,
 * average. *partner (may be NULL) receives the partner's rank, or -1 when
 * there was none (a single rank, every peer skipped, or the partner timed
 * out). */
GW_API gw_status gw_gossip_interact(gw_gossip_t gossip, float* model, int* partner);

/* The same in two halves, so that local steps overlap the transfer: start
 * publishes and asks a partner for its copy; finish waits for it (up to
 * timeout) and averages it with model as it is then. test sets *done once
 * finish would not wait. One interaction at a time (GW_ERR_INVALID_USAGE). */
GW_API gw_status gw_gossip_interact_start(gw_gossip_t gossip, float* model);
GW_API gw_status gw_gossip_interact_test(gw_gossip_t gossip, int* done);
GW_API gw_status gw_gossip_interact_finish(gw_gossip_t gossip, float* model, int* partner);

GW_API gw_status gw_gossip_stats_get(gw_gossip_t gossip, gw_gossip_stats* stats);

/* Collective: stops interacting, answers the peers still asking, receives
 * every message in flight and folds the last deltas into model (NULL: they
 * are dropped, with a WARN), so that the sum over ranks is preserved to the
 * end. After it only stats and destroy are allowed. GW_ERR_TIMEOUT (naming
 * the peers) when peers do not close within timeout. */
GW_API gw_status gw_gossip_close(gw_gossip_t gossip, float* model);

/* Local. Closes first (without a model) when gw_gossip_close was not called. */
GW_API gw_status gw_gossip_destroy(gw_gossip_t gossip);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GRADWIRE_GOSSIP_H */
