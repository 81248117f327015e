// The gossip calls of the C API (include/gradwire/gossip.h) over
// src/gossip/GossipEngine. Handles are checked (magic) before use and one
// caller at a time is enforced, as for communicators.
#include "gradwire/gossip.h"

#include <atomic>

#include "src/api/guarded.h"
#include "src/common/error.h"

#if GW_HAVE_MPI
#include "src/gossip/gossip_engine.h"
#endif

struct gw_gossip {
  static constexpr uint64_t kMagic = 0x676f737369703031ull;  // "gossip01"
  uint64_t magic = kMagic;
  std::atomic<bool> in_use{false};
#if GW_HAVE_MPI
  std::unique_ptr<gw::GossipEngine> engine;
#endif
};

namespace {

using gw::api::guarded;

// The handle, checked and held for the duration of one call.
class Held {
 public:
  explicit Held(gw_gossip_t g) : g_(g) {
    GW_REQUIRE(g != nullptr, GW_ERR_INVALID_ARGUMENT, "gossip handle is NULL");
    GW_REQUIRE(g->magic == gw_gossip::kMagic, GW_ERR_INVALID_ARGUMENT,
               "not a live gossip handle (destroyed or corrupted)");
    bool idle = false;
    GW_REQUIRE(g->in_use.compare_exchange_strong(idle, true, std::memory_order_acquire), GW_ERR_INVALID_USAGE,
               "another thread is inside a gw_gossip_* call on this group: one caller at a time");
  }
  ~Held() { g_->in_use.store(false, std::memory_order_release); }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
#if GW_HAVE_MPI
  gw::GossipEngine& engine() const { return *g_->engine; }
#endif

 private:
  gw_gossip_t g_;
};

[[maybe_unused]] void check_model(const float* model) {  // unused built without MPI
  GW_REQUIRE(model != nullptr, GW_ERR_INVALID_ARGUMENT, "model is NULL");
}

// One gossip call: the handle checked and held, fn(engine) run, failures
// mapped as at every C boundary. Built without MPI there is no engine and
// every call is GW_ERR_UNSUPPORTED (fn is a generic lambda, never
// instantiated then).
template <typename Fn>
gw_status on_engine(const char* what, gw_gossip_t gossip, Fn&& fn) {
  return guarded(what, [&] {
    Held h(gossip);
#if GW_HAVE_MPI
    fn(h.engine());
#else
    (void)fn;
    gw::fail(GW_ERR_UNSUPPORTED, "gradwire was built without MPI: gossip needs it");
#endif
  });
}

}  // namespace

extern "C" {

#if GW_HAVE_MPI
gw_status gw_gossip_create(gw_gossip_t* gossip, MPI_Comm comm, size_t count, const char* config) {
  return guarded("gw_gossip_create", [&] {
    GW_REQUIRE(gossip != nullptr, GW_ERR_INVALID_ARGUMENT, "gossip (the output handle) is NULL");
    *gossip = nullptr;
    gw::GossipConfig c = gw::parse_gossip_config(config);
    auto g = std::make_unique<gw_gossip>();
    g->engine = std::make_unique<gw::GossipEngine>(comm, count, c);
    *gossip = g.release();
  });
}
#endif

gw_status gw_gossip_publish(gw_gossip_t gossip, float* model) {
  return on_engine("gw_gossip_publish", gossip, [&](auto& e) {
    check_model(model);
    e.publish(model);
  });
}

gw_status gw_gossip_interact(gw_gossip_t gossip, float* model, int* partner) {
  if (partner) *partner = -1;
  return on_engine("gw_gossip_interact", gossip, [&](auto& e) {
    check_model(model);
    e.start(model);
    int p = e.finish(model);
    if (partner) *partner = p;
  });
}

gw_status gw_gossip_interact_start(gw_gossip_t gossip, float* model) {
  return on_engine("gw_gossip_interact_start", gossip, [&](auto& e) {
    check_model(model);
    e.start(model);
  });
}

gw_status gw_gossip_interact_test(gw_gossip_t gossip, int* done) {
  if (!done) return guarded("gw_gossip_interact_test", [] { gw::fail(GW_ERR_INVALID_ARGUMENT, "done is NULL"); });
  *done = 0;
  return on_engine("gw_gossip_interact_test", gossip, [&](auto& e) { *done = e.test() ? 1 : 0; });
}

gw_status gw_gossip_interact_finish(gw_gossip_t gossip, float* model, int* partner) {
  if (partner) *partner = -1;
  return on_engine("gw_gossip_interact_finish", gossip, [&](auto& e) {
    check_model(model);
    int p = e.finish(model);
    if (partner) *partner = p;
  });
}

gw_status gw_gossip_stats_get(gw_gossip_t gossip, gw_gossip_stats* stats) {
  if (!stats) return guarded("gw_gossip_stats_get", [] { gw::fail(GW_ERR_INVALID_ARGUMENT, "stats is NULL"); });
  return on_engine("gw_gossip_stats_get", gossip, [&](auto& e) { *stats = e.stats(); });
}

gw_status gw_gossip_close(gw_gossip_t gossip, float* model) {
  return on_engine("gw_gossip_close", gossip, [&](auto& e) { e.close(model); });
}

gw_status gw_gossip_destroy(gw_gossip_t gossip) {
  return guarded("gw_gossip_destroy", [&] {
    if (!gossip) return;  // like free(NULL)
    {
      Held h(gossip);
      gossip->magic = 0;
    }
    delete gossip;
  });
}

}  // extern "C"
