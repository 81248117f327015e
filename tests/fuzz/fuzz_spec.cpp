// Fuzz target spec: the parsers of what users (and, through a config, the
// environment) give the library as text: compressor specs
// (src/spec/: parse_spec, the families' SpecReader schemas, make_scheme) and
// the communicator config string (src/config/config.h: parse_config).
//
// Input: [u8 mode][text...]
//   mode bit 0: parse_config(text) (else make_scheme(text))
// A spec that is accepted has a canonical spec, which must itself be
// accepted and name the same scheme (it is hashed on the wire).
#include "src/config/config.h"
#include "src/spec/registry.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gw_fuzz::Bytes b(data, size);
  const uint8_t mode = b.take<uint8_t>();
  const std::string text(reinterpret_cast<const char*>(b.rest()), b.left());
  gw_fuzz::expect_ok_or_error([&] {
    if (mode & 1) {
      const gw::Config c = gw::parse_config(text.c_str());
      GW_FUZZ_CHECK(!c.describe().empty());
      return;
    }
    const auto scheme = gw::make_scheme(text);
    GW_FUZZ_CHECK(scheme && scheme->codec && !scheme->spec.empty());
    const auto again = gw::make_scheme(scheme->spec);
    GW_FUZZ_CHECK(again->spec == scheme->spec);
  });
  return 0;
}

// Seeds: a spec of every family with its keys, and a few config strings.
void gw_fuzz_make_seeds(const std::string& dir) {
  const char* const specs[] = {
      "none",
      "fp16",
      "bf16,ef=ef21",
      "maxmin:bits=4,bucket=512",
      "maxmin:bits=2,bucket=64,lossless=elias,ef=1",
      "qsgd:bits=8,bucket=128,norm=max,lossless=zstd",
      "nuq:bits=3",
      "topk:density=0.01,select=exact,index=raw,ef=0",
      "randomk:density=0.25",
      "powersgd:rank=4,warm=0,min_rate=1.5,start=10,factors=bf16",
      "eden:bits=2",
      "lattice:bits=4,eps=auto,rotate=0",
      "lattice:bits=3,eps=0.125",
      "lgreco:family=nuq,bits=2|4|8,bucket=128|2048,warmup=5,period=50,alpha=2",
  };
  int i = 0;
  for (const char* s : specs) {
    std::vector<uint8_t> seed = {0};
    seed.insert(seed.end(), s, s + std::strlen(s));
    gw_fuzz::write_seed(dir, "spec-" + std::to_string(i++), seed);
  }
  const char* const configs[] = {
      "compressor=maxmin:bits=4,bucket=512;timeout=60",
      "compressor=topk:density=0.01;algorithm=sra;chunk_bytes=1048576;checksum=0;seed=42",
      "algorithm=allgather;min_compress_bytes=4096;fallback_bytes=auto;nonfinite=propagate;robust=median",
  };
  i = 0;
  for (const char* s : configs) {
    std::vector<uint8_t> seed = {1};
    seed.insert(seed.end(), s, s + std::strlen(s));
    gw_fuzz::write_seed(dir, "config-" + std::to_string(i++), seed);
  }
}
