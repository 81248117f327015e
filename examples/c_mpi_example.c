/*
 * gradwire from plain C over MPI: the calls a training loop makes.
 *
 *   mpirun -np 2 ./gw-example-c
 *
 * Every rank owns the gradients of a small "model" (a bias and three weight
 * matrices). Each layer is averaged over the ranks with its own compressor:
 * the bias goes uncompressed, the weights with 8- or 4-bit maxmin quantization.
 * Two layers travel together as one bucket (gw_allreduce_multi), as frameworks
 * hand them over. Rank 0 then prints the statistics and the error against the
 * exact average.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>

#include "gradwire/gradwire.h"

/* Every gw_* call returns a status; on failure print its name and the detail. */
#define GW_CHECK(call)                                                                    \
  do {                                                                                    \
    gw_status st_ = (call);                                                               \
    if (st_ != GW_SUCCESS) {                                                              \
      fprintf(stderr, "rank %d: %s failed: %s: %s\n", rank, #call, gw_status_string(st_), \
              gw_last_error());                                                           \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                       \
    }                                                                                     \
  } while (0)

enum { NUM_LAYERS = 4 };

/* A deterministic "gradient": differs per rank, layer and element. */
static float fake_grad(int rank, int layer, size_t i) {
  unsigned int h = (unsigned int)(i * 2654435761u) ^ (unsigned int)(layer * 40503u + rank * 7919u);
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  return 0.01f * (float)(layer + 1) * (((float)(h % 2001u) / 1000.0f) - 1.0f + 0.2f * (float)rank);
}

/* Relative error in the max norm: max|got - exact| / max|exact|, where exact is
 * the average of every rank's input (summed in double precision). Collective. */
static double rel_error(const float* input, const float* got, size_t n, int nranks) {
  double* exact = malloc(n * sizeof *exact);
  double* mine = malloc(n * sizeof *mine);
  double err = 0.0, ref = 0.0;
  size_t i;
  if (!exact || !mine) {
    fprintf(stderr, "out of memory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (i = 0; i < n; ++i) mine[i] = input[i];
  MPI_Allreduce(mine, exact, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (i = 0; i < n; ++i) {
    double e = exact[i] / nranks, d = got[i] - e;
    if (d < 0) d = -d;
    if (e < 0) e = -e;
    if (d > err) err = d;
    if (e > ref) ref = e;
  }
  free(exact);
  free(mine);
  return ref > 0.0 ? err / ref : err;
}

static void print_stats(const char* name, const gw_stats* s) {
  printf("  %-16s calls %3llu  input %9llu B  sent %9llu B  ratio %5.2f  "
         "encode %.3f ms  decode %.3f ms  comm %.3f ms\n",
         name, (unsigned long long)s->calls, (unsigned long long)s->bytes_input,
         (unsigned long long)s->bytes_sent, s->compression_ratio, s->encode_seconds * 1e3,
         s->decode_seconds * 1e3, s->comm_seconds * 1e3);
}

int main(int argc, char** argv) {
  /* The model: one name, size and compressor spec per layer. */
  const char* names[NUM_LAYERS] = {"fc1.bias", "fc1.weight", "fc2.weight", "fc3.weight"};
  const size_t counts[NUM_LAYERS] = {256, 256 * 1024, 64 * 1024, 32 * 1024};
  const char* specs[NUM_LAYERS] = {"none", "maxmin:bits=8", "maxmin:bits=4", "maxmin:bits=8"};
  float* grad[NUM_LAYERS];
  float* avg[NUM_LAYERS];
  int rank = 0, nranks = 1, version = 0, l, step;
  gw_comm_t comm = NULL;
  gw_stats stats;

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  /* A communicator over MPI_COMM_WORLD. The config sets the default compressor
   * for layers without their own spec; GW_* environment variables work too. */
  GW_CHECK(gw_comm_create_mpi(&comm, MPI_COMM_WORLD, "compressor=maxmin:bits=8;timeout=60"));
  GW_CHECK(gw_comm_size(comm, &nranks));
  GW_CHECK(gw_get_version(&version));

  /* Per-layer compressors (every rank must make the same choices). */
  for (l = 0; l < NUM_LAYERS; ++l) GW_CHECK(gw_layer_set_spec(comm, names[l], specs[l]));

  /* fc2 and fc3 travel as one bucket: one contiguous buffer, two layers. */
  {
    size_t bucket_count = counts[2] + counts[3];
    for (l = 0; l < NUM_LAYERS; ++l) {
      size_t n = l < 2 ? counts[l] : bucket_count;
      grad[l] = l == 3 ? grad[2] + counts[2] : malloc(n * sizeof(float));
      avg[l] = l == 3 ? avg[2] + counts[2] : malloc(n * sizeof(float));
      if (!grad[l] || !avg[l]) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
  }

  for (step = 0; step < 3; ++step) { /* a few training steps */
    const char* bucket_layers[2] = {names[2], names[3]};
    const size_t bucket_offsets[2] = {0, counts[2]};
    const size_t bucket_counts[2] = {counts[2], counts[3]};
    size_t i;
    for (l = 0; l < NUM_LAYERS; ++l)
      for (i = 0; i < counts[l]; ++i) grad[l][i] = fake_grad(rank, l, i + (size_t)step);

    /* One call per layer: average over ranks (host buffers: stream = NULL). */
    for (l = 0; l < 2; ++l)
      GW_CHECK(gw_allreduce(comm, names[l], grad[l], avg[l], counts[l], GW_FLOAT32, GW_AVG, NULL));

    /* One call for the bucket: each layer keeps its spec, state and statistics. */
    GW_CHECK(gw_allreduce_multi(comm, 2, bucket_layers, bucket_offsets, bucket_counts, grad[2], avg[2],
                                GW_FLOAT32, GW_AVG, NULL));
  }

  /* Statistics per layer and for the whole communicator; error of the last step. */
  if (rank == 0)
    printf("gradwire %d.%d.%d on %d ranks, after 3 steps:\n", version / 10000, (version / 100) % 100,
           version % 100, nranks);
  for (l = 0; l < NUM_LAYERS; ++l) {
    double err = rel_error(grad[l], avg[l], counts[l], nranks); /* collective: all ranks */
    char spec[128];
    GW_CHECK(gw_layer_stats(comm, names[l], &stats));
    GW_CHECK(gw_layer_get_spec(comm, names[l], spec, sizeof spec));
    if (rank == 0) {
      print_stats(names[l], &stats);
      printf("  %-16s spec %-24s max error / max |exact average|: %.2e\n", "", spec, err);
    }
  }
  GW_CHECK(gw_comm_stats(comm, &stats));
  if (rank == 0) print_stats("(communicator)", &stats);

  GW_CHECK(gw_comm_destroy(comm));
  for (l = 0; l < 3; ++l) {
    free(grad[l]);
    free(avg[l]);
  }
  MPI_Finalize();
  return 0;
}
