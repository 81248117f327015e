// Spec strings and config strings: typed keys, errors that name the bad key.
#include <gtest/gtest.h>

#include <cstdlib>

#include "src/config/config.h"
#include "src/common/error.h"
#include "src/spec/registry.h"
#include "src/spec/spec.h"

namespace gw {
namespace {

std::string error_of(const std::function<void()>& f, gw_status* status = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (status) *status = e.status();
    return e.what();
  }
  return "";
}

TEST(Spec, ParsesFamilyAndKeys) {
  Spec s = parse_spec(" maxmin:bits=4, bucket=256 ");
  EXPECT_EQ(s.family, "maxmin");
  ASSERT_EQ(s.params.size(), 2u);
  EXPECT_EQ(s.params[1].first, "bucket");
  EXPECT_EQ(s.params[1].second, "256");
}

TEST(Spec, SyntaxErrorsNameTheProblem) {
  gw_status st = GW_SUCCESS;
  EXPECT_NE(error_of([] { parse_spec("maxmin:bits"); }, &st).find("key=value"), std::string::npos);
  EXPECT_EQ(st, GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error_of([] { parse_spec("maxmin:bits=4,bits=5"); }).find("'bits' given twice"), std::string::npos);
  EXPECT_NE(error_of([] { parse_spec(""); }).find("empty"), std::string::npos);
}

TEST(Spec, ReaderChecksTypesRangesAndUnknownKeys) {
  Spec s = parse_spec("x:a=3,b=zz,c=1.5");
  SpecReader r(s);
  EXPECT_EQ(r.get_int("a", 0, 0, 10), 3);
  EXPECT_NE(error_of([&] { r.get_int("b", 0, 0, 10); }).find("key 'b'"), std::string::npos);
  EXPECT_NE(error_of([&] { r.get_int("a", 0, 5, 10); }).find("outside"), std::string::npos);
  EXPECT_DOUBLE_EQ(r.get_double("c", 0, 0, 2), 1.5);
  SpecReader r2(s);
  r2.get_int("a", 0, 0, 10);
  EXPECT_NE(error_of([&] { r2.finish(); }).find("unknown key 'b'"), std::string::npos);
}

TEST(Registry, UnknownCompressorListsKnownOnes) {
  std::string e = error_of([] { make_compressor("nosuch:bits=2"); });
  EXPECT_NE(e.find("unknown compressor 'nosuch'"), std::string::npos) << e;
  EXPECT_NE(e.find("maxmin"), std::string::npos) << e;
}

TEST(Registry, CanonicalSpecsShareOneCodec) {
  auto a = make_compressor("maxmin:bucket=512,bits=4");
  auto b = make_compressor("maxmin:bits=4");
  EXPECT_EQ(a->spec(), b->spec());
  EXPECT_EQ(a.get(), b.get());
}

TEST(Config, DefaultsEnvAndString) {
  unsetenv("GW_TIMEOUT");
  Config d = parse_config(nullptr);
  EXPECT_EQ(d.algorithm, Algorithm::kAuto);
  EXPECT_TRUE(d.checksum);
  setenv("GW_TIMEOUT", "7", 1);
  EXPECT_DOUBLE_EQ(parse_config("").timeout_s, 7);
  EXPECT_DOUBLE_EQ(parse_config("timeout=3").timeout_s, 3);  // string wins over env
  unsetenv("GW_TIMEOUT");
  Config c = parse_config("compressor=maxmin:bits=2,bucket=128; algorithm=sra; chunk_bytes=1M; checksum=0");
  EXPECT_EQ(c.compressor, make_compressor("maxmin:bits=2,bucket=128")->spec());
  EXPECT_EQ(c.algorithm, Algorithm::kSra);
  EXPECT_EQ(c.chunk_bytes, 1u << 20);
  EXPECT_FALSE(c.checksum);
}

TEST(Config, BadKeysAndValuesNameTheKey) {
  EXPECT_NE(error_of([] { parse_config("timeoot=3"); }).find("unknown config key 'timeoot'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("algorithm=ring"); }).find("'algorithm'='ring'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("compressor=maxmin:bits=9"); }).find("'bits'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("timeout=-1"); }).find("timeout"), std::string::npos);
  setenv("GW_CHECKSUM", "yes", 1);
  EXPECT_NE(error_of([] { parse_config(""); }).find("environment GW_CHECKSUM"), std::string::npos);
  unsetenv("GW_CHECKSUM");
}

// Values that used to pass silently: an empty timeout (meant "forever"), a bare
// suffix (meant 0), a suffix that overflows (a huge chunk_bytes became 4096).
TEST(Config, EmptyBareAndOverflowingValuesAreErrors) {
  gw_status st = GW_SUCCESS;
  EXPECT_NE(error_of([] { parse_config("timeout="); }, &st).find("'timeout'"), std::string::npos);
  EXPECT_EQ(st, GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error_of([] { parse_config("timeout=inf"); }).find("'timeout'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("fallback_bytes=K"); }).find("'fallback_bytes'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("fallback_bytes="); }).find("'fallback_bytes'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("chunk_bytes=17179869184G"); }).find("'chunk_bytes'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_config("min_compress_bytes=18446744073709551615K"); }).find("within 64 bits"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_config("seed=99999999999999999999"); }).find("'seed'"), std::string::npos);
  EXPECT_EQ(parse_config("fallback_bytes=16G").fallback_bytes, size_t(16) << 30);
  EXPECT_EQ(parse_config("chunk_bytes=0x10000").chunk_bytes, size_t(65536));
}

// The string wins over the environment, also over a bad environment value;
// a bad value for a key the string leaves unset is still an error.
TEST(Config, StringWinsOverABadEnvironmentValue) {
  setenv("GW_TIMEOUT", "soon", 1);
  EXPECT_DOUBLE_EQ(parse_config("timeout=3").timeout_s, 3);
  EXPECT_NE(error_of([] { parse_config("checksum=1"); }).find("environment GW_TIMEOUT"), std::string::npos);
  unsetenv("GW_TIMEOUT");
}

// A message quoting its input stays short, however long the input.
TEST(Errors, MessagesDoNotGrowWithTheInput) {
  const std::string huge_spec = "maxmin:bits=4,bucket=512," + std::string(100000, 'x') + "=1";
  std::string what = error_of([&] { make_compressor(huge_spec); });
  EXPECT_FALSE(what.empty());
  EXPECT_LT(what.size(), 1000u) << what.substr(0, 200);
  what = error_of([&] { parse_config(("compressor=" + huge_spec).c_str()); });
  EXPECT_LT(what.size(), 1000u);
  what = error_of([&] { parse_config((std::string(100000, 'k') + "=1").c_str()); });
  EXPECT_LT(what.size(), kMaxErrorMessageBytes + 100);
  EXPECT_NE(what.find("100000 bytes"), std::string::npos) << what.substr(0, 300);
}

}  // namespace
}  // namespace gw
