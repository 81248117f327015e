// Fuzz target codec: every payload decoder a peer's bytes reach.
//
// Input: [u8 codec][u8 mode][u16 n, little-endian, low 15 bits][payload...]
//   codec: index (mod the list's size) into the wire codecs of kSpecs below:
//          each spec's own codec, or, for the families whose own payload
//          never travels, what does: a round scheme's round vector codecs
//          (powersgd's factors, lattice's codes) and lgreco's candidates.
//   mode bits 0-1: 0 decode, 1 decode_add, 2 the pieces of a message walked
//          back to back with payload_extent (up to 8), each decoded;
//          3 decode_add again. A codec that decodes against a reference
//          (lattice's codes) runs decode_near instead, with a fixed reference.
//   mode bit 2: payload zero-padded / cut to encoded_bytes(n) (the exact
//          size of a fixed-size codec, the capacity of a variable one), so
//          mutations get past the size check.
// The payload is a heap copy of exactly its size and the output exactly n
// floats: any read or write outside them is an ASan report.
#include <cmath>
#include <memory>
#include <set>

#include "src/planner/adaptive.h"
#include "src/scheme/round_codec.h"
#include "src/spec/registry.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Every family with its spec keys' corners (compressors/<name>/): bit widths,
// buckets, norms, lossless stages, index codings, factor codecs.
const char* const kSpecs[] = {
    "none",
    "fp16",
    "bf16",
    "maxmin:bits=1",
    "maxmin:bits=4",
    "maxmin:bits=8,bucket=64",
    "maxmin:bits=3,bucket=100",
    "qsgd:bits=2",
    "qsgd:bits=4",
    "qsgd:bits=8,bucket=64,norm=max",
    "nuq:bits=4",
    "nuq:bits=3,bucket=64",
    "maxmin:bits=4,lossless=elias",
    "qsgd:bits=4,bucket=64,lossless=elias",
    "nuq:bits=2,bucket=64,lossless=elias",
    "maxmin:bits=2,bucket=64,lossless=zstd",
    "qsgd:bits=8,lossless=zstd",
    "topk:density=0.1",
    "topk:density=0.01,select=exact",
    "topk:density=0.5,index=raw",
    "topk:density=1",
    "randomk:density=0.1",
    "randomk:density=1",
    "eden:bits=1",
    "eden:bits=4",
    "eden:bits=8",
    "lattice:bits=4",
    "lattice:bits=2,eps=0.5,rotate=0",
    "lattice:bits=8",
    "powersgd:rank=2",
    "powersgd:rank=2,factors=fp16",
    "powersgd:rank=4,factors=bf16",
    "lgreco:family=qsgd,bits=2|4,bucket=64|512",
};

constexpr size_t kMaxN = 0x7fff;

struct Codecs {
  std::vector<std::shared_ptr<const gw::Compressor>> list;
  std::vector<float> ref;  // decode_near's reference: ref_value(i)
};

float ref_value(size_t i) { return 0.5f * std::sin(0.37f * static_cast<float>(i)); }

const Codecs& codecs() {
  static const Codecs c = [] {
    Codecs out;
    std::set<std::string> seen;
    auto add = [&](const std::shared_ptr<const gw::Compressor>& codec) {
      if (codec && !codec->round_codec() && !codec->adaptive() && seen.insert(codec->spec()).second)
        out.list.push_back(codec);
    };
    for (const char* spec : kSpecs) {
      std::shared_ptr<const gw::Compressor> codec;
      try {
        codec = gw::make_compressor(spec);
      } catch (const gw::Error& e) {
        if (e.status() == GW_ERR_UNSUPPORTED) continue;  // lossless=zstd without libzstd
        throw;
      }
      if (const gw::RoundCodec* rc = codec->round_codec()) {
        add(rc->factor_codec());
        for (int r = 0; r < gw::kMaxRounds; ++r) add(rc->round_vector_codec(r));
      } else if (const gw::AdaptiveFamily* fam = codec->adaptive()) {
        for (const auto& s : fam->candidates()) add(s->codec);
      } else {
        add(codec);
      }
    }
    out.ref.resize(kMaxN);
    for (size_t i = 0; i < kMaxN; ++i) out.ref[i] = ref_value(i);
    return out;
  }();
  return c;
}

void decode_one(const gw::Compressor& codec, const uint8_t* in, size_t bytes, size_t n, bool add,
                gw_fuzz::Exact<float>& out) {
  if (codec.traits().decodes_near_reference) {
    std::vector<uint32_t> missed;
    const auto ref = gw_fuzz::exact_copy(reinterpret_cast<const uint8_t*>(codecs().ref.data()), n * sizeof(float),
                                         n * sizeof(float));  // exactly n floats
    codec.decode_near(in, bytes, n, reinterpret_cast<const float*>(ref->data()), out.data(), add, &missed);
    const size_t units = (n + 4096) / 4097 + 1;
    GW_FUZZ_CHECK(missed.size() <= units);
  } else if (add) {
    codec.decode_add(in, bytes, n, out.data());
  } else {
    codec.decode(in, bytes, n, out.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Codecs& all = codecs();
  gw_fuzz::Bytes b(data, size);
  const gw::Compressor& codec = *all.list[b.take<uint8_t>() % all.list.size()];
  const uint8_t mode = b.take<uint8_t>();
  const size_t n = b.take<uint16_t>() & kMaxN;
  size_t bytes = b.left();
  if (mode & 4) bytes = codec.encoded_bytes(n);
  const auto copy = gw_fuzz::exact_copy(b.rest(), b.left(), bytes);
  const gw_fuzz::Exact<uint8_t>& payload = *copy;
  gw_fuzz::Exact<float> out(n, 1.0f);
  const int op = mode & 3;
  gw_fuzz::expect_ok_or_error([&] {
    if (op != 2) {
      decode_one(codec, payload.data(), payload.size(), n, op != 0, out);
      return;
    }
    // Pieces back to back in one message (collective.cpp walks them so).
    size_t at = 0;
    for (int piece = 0; piece < 8 && at < payload.size(); ++piece) {
      const size_t avail = payload.size() - at;
      const size_t len = codec.payload_extent(payload.data() + at, avail, n);
      GW_FUZZ_CHECK(len <= avail);
      if (codec.traits().fixed_size) GW_FUZZ_CHECK(len == codec.encoded_bytes(n));
      // An exact-size copy of the piece, so a read past it is seen.
      const auto one = gw_fuzz::exact_copy(payload.data() + at, len, len);
      decode_one(codec, one->data(), len, n, piece > 0, out);
      if (len == 0) break;
      at += len;
    }
  });
  return 0;
}

// Seeds: payloads of the real encoders (a few lengths per codec, several
// pieces back to back for mode 2), and some cut short.
void gw_fuzz_make_seeds(const std::string& dir) {
  const Codecs& all = codecs();
  for (size_t c = 0; c < all.list.size(); ++c) {
    const gw::Compressor& codec = *all.list[c];
    const bool near = codec.traits().decodes_near_reference;
    std::vector<size_t> lengths = {5, 300};
    if (near) lengths = {300, 4200};  // lattice: one unit, two units
    for (size_t n : lengths) {
      std::vector<float> x(n);
      for (size_t i = 0; i < n; ++i)
        x[i] = near ? ref_value(i) + 0.002f * std::cos(1.3f * static_cast<float>(i))
                    : std::sin(0.11f * static_cast<float>(i * i % 97)) * (1.0f + static_cast<float>(i % 7));
      if (near)  // lattice codes: the units' spacings first (lattice.h)
        for (size_t u = 0; u < (n + 4096) / 4097; ++u) x[u] = 0.01f;
      std::vector<uint8_t> enc(codec.encoded_bytes(n));
      bool nonfinite = false;
      const size_t len = codec.encode(x.data(), n, enc.data(), 0x1234 + n, &nonfinite);
      enc.resize(len);
      for (int mode : {0, 2}) {
        if (mode == 2 && n > 300) continue;
        std::vector<uint8_t> seed = {static_cast<uint8_t>(c), static_cast<uint8_t>(mode)};
        gw_fuzz::put(seed, static_cast<uint16_t>(n));
        seed.insert(seed.end(), enc.begin(), enc.end());
        if (mode == 2) seed.insert(seed.end(), enc.begin(), enc.end());  // two pieces
        const std::string name = codec.spec() + "-n" + std::to_string(n) + "-m" + std::to_string(mode);
        gw_fuzz::write_seed(dir, name, seed);
        if (mode == 0 && n == lengths.back()) {  // cut short
          seed.resize(4 + len / 2);
          gw_fuzz::write_seed(dir, name + "-cut", seed);
        }
      }
    }
  }
}
