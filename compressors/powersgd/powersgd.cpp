#include "compressors/powersgd/powersgd.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "compressors/powersgd/low_rank.h"
#include "compressors/powersgd/low_rank_device.h"
#include "src/common/error.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

constexpr size_t kRows = 0, kCols = 1, kRank = 2;

// The steps of one call, on the host (low_rank.h) or, for a call on device
// memory, enqueued on its stream (low_rank_device.h): one scheme, two places.
class Steps {
 public:
  explicit Steps(const RoundCall& c) : dev_(c.on_device), stream_(c.stream) {}
  void add_into(float* x, const float* y, size_t n) const {
    if (dev_) return low_rank_device::add_into(x, y, n, stream_);
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
  }
  void scaled_copy(float* dst, const float* src, size_t n, float factor) const {
    if (dev_) return low_rank_device::scaled_copy(dst, src, n, factor, stream_);
    for (size_t i = 0; i < n; ++i) dst[i] = src[i] * factor;
  }
  void fill_normal(float* x, size_t n, uint64_t key) const {
    if (dev_) return low_rank_device::fill_normal(x, n, key, stream_);
    low_rank::fill_normal(x, n, key);
  }
  void orthonormalize(float* A, size_t rows, size_t r) const {
    if (dev_) return low_rank_device::orthonormalize(A, rows, r, stream_);
    low_rank::orthonormalize(A, rows, r);
  }
  void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P) const {
    if (dev_) return low_rank_device::mul_mq(M, rows, cols, Q, r, P, stream_);
    low_rank::mul_mq(M, rows, cols, Q, r, P);
  }
  void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q) const {
    if (dev_) return low_rank_device::mul_mtp(M, rows, cols, P, r, Q, stream_);
    low_rank::mul_mtp(M, rows, cols, P, r, Q);
  }
  void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out, float* residual,
               float scale) const {
    if (dev_) return low_rank_device::mul_pqt(P, Q, rows, cols, r, out, residual, scale, stream_);
    low_rank::mul_pqt(P, Q, rows, cols, r, out, residual, scale);
  }

 private:
  bool dev_;
  void* stream_;
};

}  // namespace

PowerSgdCompressor::PowerSgdCompressor(const PowerSgdParams& p) : p_(p) {
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.9g", p.min_rate);
  spec_ = "powersgd:rank=" + std::to_string(p.rank) + ",warm=" + (p.warm ? "1" : "0") + ",min_rate=" + rate +
          ",start=" + std::to_string(p.start) + ",factors=" + p.factors;
  factor_codec_ = make_compressor(p.factors == "fp32" ? "none" : p.factors);
}

CompressorTraits PowerSgdCompressor::traits() const {
  CompressorTraits t;
  t.needs_error_feedback = true;  // ef=1 unless the spec says ef=0
  t.whole_layer = true;           // the matrix view needs the whole layer
  return t;
}

RoundLayout PowerSgdCompressor::layout(const std::vector<int64_t>& shape, size_t count, uint64_t step, int) const {
  RoundLayout l;
  if (shape.size() < 2 || count == 0) return l;  // a vector, or no shape hint: exact
  int64_t product = 1;
  bool overflow = false;
  for (int64_t d : shape) overflow |= __builtin_mul_overflow(product, d, &product);
  GW_REQUIRE(!overflow && product == static_cast<int64_t>(count), GW_ERR_INVALID_ARGUMENT, "the layer's shape (", shape.size(),
             " dims, product ", product, ") does not hold its ", count, " values; call gw_layer_set_shape again");
  const size_t rows = static_cast<size_t>(shape[0]), cols = count / rows;
  if (rows > INT32_MAX || cols > INT32_MAX) return l;  // more than a BLAS int: exact
  const size_t r = std::min({rows, cols, static_cast<size_t>(p_.rank)});
  // PyTorch's test: compress only when (rows + cols) r min_rate < rows cols.
  if (!(static_cast<double>(rows + cols) * static_cast<double>(r) * p_.min_rate <
        static_cast<double>(rows) * static_cast<double>(cols)))
    return l;
  l.dims[kRows] = rows;
  l.dims[kCols] = cols;
  l.dims[kRank] = r;
  l.state_floats = cols * r;  // Q, kept from the first call on
  l.describe = std::to_string(rows) + "x" + std::to_string(cols) + ",r=" + std::to_string(r);
  if (step < p_.start) return l;  // plain steps: state kept, not used
  l.rounds = 2;
  l.round_elems[0] = rows * r;
  l.round_elems[1] = cols * r;
  return l;
}

bool PowerSgdCompressor::runs_on_device() const { return low_rank_device::available(); }

void PowerSgdCompressor::init_state(const RoundCall& c) const {
  const RoundLayout& l = *c.layout;
  Steps(c).fill_normal(c.state, l.dims[kCols] * l.dims[kRank], c.key);
}

void PowerSgdCompressor::produce(const RoundCall& c, int round) const {
  const RoundLayout& l = *c.layout;
  const size_t rows = l.dims[kRows], cols = l.dims[kCols], r = l.dims[kRank];
  const Steps run(c);
  if (round == 0) {
    // M = G + E, built in the residual's memory (E = M - P Q^T at the end)
    if (c.residual) run.add_into(c.residual, c.in, c.count);
    float* Q = c.state;
    if (!p_.warm) run.fill_normal(Q, cols * r, c.key);
    run.orthonormalize(Q, cols, r);
    run.mul_mq(matrix(c), rows, cols, Q, r, c.send[0]);
  } else {
    run.mul_mtp(matrix(c), rows, cols, c.summed[0], r, c.send[1]);
  }
}

void PowerSgdCompressor::consume(const RoundCall& c, int round) const {
  const RoundLayout& l = *c.layout;
  const size_t rows = l.dims[kRows], cols = l.dims[kCols], r = l.dims[kRank];
  const Steps run(c);
  if (round == 0) {
    run.orthonormalize(c.summed_rw[0], rows, r);  // the sum's scale does not matter here
    return;
  }
  float* Q = c.state;
  // The mean: warm start of the next call.
  run.scaled_copy(Q, c.summed[1], cols * r, 1.0f / static_cast<float>(c.ranks));
  // out = P Q^T, the mean of the M approximated; E -= it; GW_SUM returns ranks times it.
  run.mul_pqt(c.summed[0], Q, rows, cols, r, c.out, c.residual, c.average ? 1.0f : static_cast<float>(c.ranks));
}

void register_powersgd(Registry& r) {
  r.add("powersgd", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    PowerSgdParams p;
    p.rank = static_cast<int>(rd.get_int("rank", 4, 1, 1024));
    p.warm = rd.get_int("warm", 1, 0, 1) == 1;
    p.min_rate = rd.get_double("min_rate", 2.0, 0.0, 1e9);
    p.start = static_cast<uint64_t>(rd.get_int("start", 0, 0, INT64_MAX));
    p.factors = rd.get_choice("factors", "fp32", {"fp32", "fp16", "bf16"});
    GW_REQUIRE(low_rank::available(), GW_ERR_UNSUPPORTED, "'", rd.spec().text,
               "': this build of gradwire has no BLAS (install libblas-dev, then configure again)");
    return std::make_unique<PowerSgdCompressor>(p);
  });
}

}  // namespace gw
