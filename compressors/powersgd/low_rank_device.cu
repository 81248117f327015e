// low_rank_device.h on CUDA: cuBLAS for the per-rank products, our kernels for
// the shared side.
#include "compressors/powersgd/low_rank_device.h"

#include <climits>
#include <vector>

#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/core/device_util.cuh"

#if GW_HAVE_CUBLAS
#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>
#endif

namespace gw {
namespace low_rank_device {
namespace {

using devutil::as_stream;
constexpr int kThreads = 256;
constexpr int kOrthoThreads = 512;  // one block per orthonormalization (a few columns: latency, not bandwidth)
constexpr size_t kMaxRank = 1024;   // powersgd's largest rank (its spec's bound)

__global__ void add_into_kernel(float* x, const float* y, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

__global__ void scaled_copy_kernel(float* dst, const float* src, size_t n, float factor) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = __fmul_rn(src[i], factor);
}

// Pair p fills x[2p], x[2p + 1] from the same two uniforms as the host's loop.
__global__ void fill_normal_kernel(float* x, size_t n, uint64_t key) {
  const float two_pi = 6.283185307179586f;
  const size_t pairs = (n + 1) / 2;
  for (size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x; p < pairs; p += size_t(gridDim.x) * blockDim.x) {
    const size_t i = 2 * p;
    const uint32_t c = static_cast<uint32_t>(i);
    const float u1 = 1.0f - rng_uniform(key, c);
    const float u2 = rng_uniform(key, c + 1);
    const float rad = sqrtf(-2.0f * logf(u1));
    x[i] = rad * cosf(two_pi * u2);
    if (i + 1 < n) x[i + 1] = rad * sinf(two_pi * u2);
  }
}

// out[i cols + j] = sum_k P[k rows + i] Q[k cols + j], the host loop's
// products and adds in its order, each rounded on its own (no FMA).
__global__ void pqt_kernel(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out,
                           float* residual, float scale) {
  const size_t total = rows * cols;
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x) {
    const size_t i = idx / cols, j = idx - i * cols;
    float v = __fmul_rn(P[i], Q[j]);
    for (size_t k = 1; k < r; ++k) v = __fadd_rn(v, __fmul_rn(P[k * rows + i], Q[k * cols + j]));
    if (residual) residual[idx] = __fsub_rn(residual[idx], v);
    out[idx] = scale != 1.0f ? __fmul_rn(v, scale) : v;
  }
}

__device__ double warp_sum(double s) {
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  return s;  // the same butterfly on every lane: every lane holds the same bits
}

// One block. Per column: its projections on the earlier columns (one warp per
// earlier column, lanes striding the rows, in double), subtracted together;
// twice above rank 2; then the norm (a fixed tree over the block).
__global__ void orthonormalize_kernel(float* A, size_t rows, size_t r, int passes) {
  // Sized for the largest rank rather than r (dynamic): the subtract loop's
  // loads of coef may be widened past the i in use, which compute-sanitizer
  // reported as reads past an r-float allocation.
  __shared__ float coef[kMaxRank];
  __shared__ double warp_part[kOrthoThreads / 32];
  __shared__ double norm;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (size_t i = 0; i < r; ++i) {
    float* col = A + i * rows;
    for (int pass = 0; pass < passes && i > 0; ++pass) {
      for (size_t j = warp; j < i; j += warps) {
        const float* prev = A + j * rows;
        double s = 0;
        for (size_t k = lane; k < rows; k += 32) s += static_cast<double>(prev[k]) * col[k];
        s = warp_sum(s);
        if (lane == 0) coef[j] = static_cast<float>(s);
      }
      __syncthreads();
      for (size_t k = threadIdx.x; k < rows; k += blockDim.x) {
        float v = col[k];
        for (size_t j = 0; j < i; ++j) v = __fsub_rn(v, __fmul_rn(coef[j], A[j * rows + k]));
        col[k] = v;
      }
      __syncthreads();
    }
    double s = 0;
    for (size_t k = threadIdx.x; k < rows; k += blockDim.x) s += static_cast<double>(col[k]) * col[k];
    s = warp_sum(s);
    if (lane == 0) warp_part[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
      double t = 0;
      for (int w = 0; w < warps; ++w) t += warp_part[w];
      norm = sqrt(t);
    }
    __syncthreads();
    if (norm > 0) {  // a zero column stays zero (no 0/0); NaN stays NaN for the nonfinite policy
      const float inv = static_cast<float>(1.0 / norm);
      for (size_t k = threadIdx.x; k < rows; k += blockDim.x) col[k] = __fmul_rn(col[k], inv);
    }
    __syncthreads();
  }
}

unsigned blocks(size_t work) { return devutil::grid_for(work, kThreads); }

#if GW_HAVE_CUBLAS
// cuBLAS, opened on first use (CMakeLists.txt says why it is not linked).
// Only the four entry points used here, typed from cublas_v2.h.
struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  std::string error;  // why it did not open ("" when it did)
};

const Cublas& cublas() {
  static const Cublas lib = [] {
    Cublas c;
    void* h = dlopen(GW_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);  // kept open for the process
    if (!h) {
      const char* e = dlerror();
      c.error = std::string(GW_CUBLAS_SONAME) + ": " + (e ? e : "dlopen failed");
      return c;
    }
    c.create = reinterpret_cast<decltype(c.create)>(dlsym(h, "cublasCreate_v2"));
    c.set_stream = reinterpret_cast<decltype(c.set_stream)>(dlsym(h, "cublasSetStream_v2"));
    c.set_math_mode = reinterpret_cast<decltype(c.set_math_mode)>(dlsym(h, "cublasSetMathMode"));
    c.sgemm = reinterpret_cast<decltype(c.sgemm)>(dlsym(h, "cublasSgemm_v2"));
    if (!c.create || !c.set_stream || !c.set_math_mode || !c.sgemm)
      c.error = std::string(GW_CUBLAS_SONAME) + " lacks an entry point gradwire calls";
    return c;
  }();
  return lib;
}

void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(GW_ERR_SYSTEM, "cuBLAS error ", static_cast<int>(s), " in ", what);
}

int as_int(size_t v) {
  GW_REQUIRE(v <= static_cast<size_t>(INT_MAX), GW_ERR_INTERNAL, "a matrix side of ", v,
             " is more than cuBLAS takes (the layout keeps such layers exact)");
  return static_cast<int>(v);
}

// One handle per thread and device, made on first use and bound to the
// caller's stream per call. Deliberately never destroyed: a thread_local
// destructor may run after the CUDA runtime has shut down at exit.
cublasHandle_t handle(void* stream) {
  const Cublas& lib = cublas();
  GW_REQUIRE(lib.error.empty(), GW_ERR_UNSUPPORTED, "cuBLAS did not open (", lib.error, ")");
  thread_local std::vector<cublasHandle_t> handles;
  int dev = 0;
  devutil::check(cudaGetDevice(&dev), "cudaGetDevice");
  if (handles.size() <= static_cast<size_t>(dev)) handles.resize(dev + 1, nullptr);
  if (!handles[dev]) {
    check_blas(lib.create(&handles[dev]), "cublasCreate");
    check_blas(lib.set_math_mode(handles[dev], CUBLAS_DEFAULT_MATH), "cublasSetMathMode");  // fp32, no TF32
  }
  check_blas(lib.set_stream(handles[dev], as_stream(stream)), "cublasSetStream");
  return handles[dev];
}
#endif

}  // namespace

#if GW_HAVE_CUBLAS
bool available() { return cublas().error.empty(); }

// The host's cblas_sgemm calls (low_rank.cpp), argument for argument.
void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P, void* stream) {
  const float one = 1.0f, zero = 0.0f;
  check_blas(cublas().sgemm(handle(stream), CUBLAS_OP_T, CUBLAS_OP_N, as_int(rows), as_int(r), as_int(cols), &one, M,
                         as_int(cols), Q, as_int(cols), &zero, P, as_int(rows)),
             "cublasSgemm (P = M Q)");
}

void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q, void* stream) {
  const float one = 1.0f, zero = 0.0f;
  check_blas(cublas().sgemm(handle(stream), CUBLAS_OP_N, CUBLAS_OP_N, as_int(cols), as_int(r), as_int(rows), &one, M,
                         as_int(cols), P, as_int(rows), &zero, Q, as_int(cols)),
             "cublasSgemm (Q = M^T P)");
}
#else
bool available() { return false; }
namespace {
[[noreturn]] void no_cublas() {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no cuBLAS (powersgd on device buffers is staged to the host)");
}
}  // namespace
void mul_mq(const float*, size_t, size_t, const float*, size_t, float*, void*) { no_cublas(); }
void mul_mtp(const float*, size_t, size_t, const float*, size_t, float*, void*) { no_cublas(); }
#endif

void add_into(float* x, const float* y, size_t n, void* stream) {
  if (!n) return;
  add_into_kernel<<<blocks(n), kThreads, 0, as_stream(stream)>>>(x, y, n);
  devutil::check_launch("powersgd residual += input");
}

void scaled_copy(float* dst, const float* src, size_t n, float factor, void* stream) {
  if (!n) return;
  scaled_copy_kernel<<<blocks(n), kThreads, 0, as_stream(stream)>>>(dst, src, n, factor);
  devutil::check_launch("powersgd mean of Q");
}

void fill_normal(float* x, size_t n, uint64_t key, void* stream) {
  if (!n) return;
  fill_normal_kernel<<<blocks((n + 1) / 2), kThreads, 0, as_stream(stream)>>>(x, n, key);
  devutil::check_launch("powersgd fill_normal");
}

void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out, float* residual,
             float scale, void* stream) {
  if (!rows || !cols) return;
  pqt_kernel<<<blocks(rows * cols), kThreads, 0, as_stream(stream)>>>(P, Q, rows, cols, r, out, residual, scale);
  devutil::check_launch("powersgd P Q^T");
}

void orthonormalize(float* A, size_t rows, size_t r, void* stream) {
  GW_REQUIRE(r <= rows && r <= kMaxRank, GW_ERR_INTERNAL, "orthonormalize: ", r, " columns of length ", rows);
  if (!r) return;
  orthonormalize_kernel<<<1, kOrthoThreads, 0, as_stream(stream)>>>(A, rows, r, r <= 2 ? 1 : 2);
  devutil::check_launch("powersgd orthonormalize");
}

}  // namespace low_rank_device
}  // namespace gw
