// The record codec's JSON values: round trips, agreement with nlohmann's MessagePack
// (older records were written by it), and malformed input.
#include <gtest/gtest.h>

#include <random>

#include "runtime/msgpack.hpp"

using namespace bihuan;
namespace mp = bihuan::runtime::msgpack;

namespace {

std::string encode(const json& j) {
  std::string out;
  mp::Writer w(out);
  w.value(j);
  w.finish();
  return out;
}

std::optional<json> decode(std::string_view bytes) {
  mp::Reader r(bytes);
  auto v = r.value();
  if (v && !r.done()) return std::nullopt;  // every byte belongs to the value
  return v;
}

// Equal, and of the same JSON type all the way down (5u and 5 compare equal otherwise).
void expect_same(const json& a, const json& b, const std::string& where = "") {
  ASSERT_EQ(a.type(), b.type()) << where << ": " << a.dump() << " vs " << b.dump();
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (const auto& [k, v] : a.items()) expect_same(v, b.at(k), where + "/" + k);
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (std::size_t i = 0; i < a.size(); ++i)
      expect_same(a[i], b[i], where + "/" + std::to_string(i));
  } else {
    EXPECT_EQ(a, b) << where;
  }
}

json random_value(std::mt19937_64& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 5 : 7);
  switch (kind(rng)) {
    case 0:
      return nullptr;
    case 1:
      return rng() % 2 == 0;
    case 2: {  // signed, every width
      std::int64_t v = static_cast<std::int64_t>(rng());
      return v >> (rng() % 64);
    }
    case 3:
      return static_cast<std::uint64_t>(rng() >> (rng() % 64));
    case 4:
      return std::uniform_real_distribution<double>(-1e12, 1e12)(rng);
    case 5:
      return std::string(rng() % 300, static_cast<char>('a' + rng() % 26)) + "包保";
    case 6: {
      json a = json::array();
      for (std::size_t i = 0, n = rng() % 20; i < n; ++i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (std::size_t i = 0, n = rng() % 20; i < n; ++i)
        o["k" + std::to_string(rng() % 40)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace

TEST(MsgpackTest, ValuesRoundTripWithTheirTypes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    json v = random_value(rng, 0);
    auto back = decode(encode(v));
    ASSERT_TRUE(back) << v.dump();
    // Non-negative signed integers come back unsigned, as with nlohmann's codec.
    expect_same(json::from_msgpack(json::to_msgpack(v)), *back);
  }
}

TEST(MsgpackTest, ReadsWhatNlohmannWrote) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    json v = random_value(rng, 0);
    auto bytes = json::to_msgpack(v);
    auto ours = decode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(ours) << v.dump();
    expect_same(json::from_msgpack(bytes), *ours);
  }
  // Edge widths, float32 and a repeated key (the last value wins).
  for (std::int64_t x : std::initializer_list<std::int64_t>{
           -33, -128, -129, -32768, -32769, -2147483648LL, -2147483649LL, INT64_MIN})
    expect_same(json(x), *decode(encode(json(x))));
  expect_same(json(std::uint64_t{UINT64_MAX}), *decode(encode(json(std::uint64_t{UINT64_MAX}))));
  EXPECT_EQ(*decode(std::string("\xca\x3f\xc0\x00\x00", 5)), json(1.5));
  EXPECT_EQ(*decode(std::string("\x82\xa1k\x01\xa1k\x02", 7)), json({{"k", 2}}));
}

// The writer grows its string ahead and trims it in finish(): bytes at every width
// boundary match nlohmann's, and writing after what the string already held keeps it.
TEST(MsgpackTest, WritesTheBytesNlohmannWritesAtEveryWidth) {
  std::string out = "prefix";
  std::vector<std::uint8_t> expected = {'p', 'r', 'e', 'f', 'i', 'x'};
  {
    mp::Writer w(out);
    for (std::size_t n : {0, 1, 31, 32, 255, 256, 65535, 65536, 70000}) {
      json v = std::string(n, 'x');
      w.value(v);
      auto b = json::to_msgpack(v);
      expected.insert(expected.end(), b.begin(), b.end());
      EXPECT_EQ(w.size(), expected.size()) << n;
    }
    for (std::int64_t x :
         std::initializer_list<std::int64_t>{0, 127, 128, 255, 256, 65535, 65536, 4294967295LL,
                                             4294967296LL, -1, -32, -33, -128, -129, INT64_MIN}) {
      w.value(json(x));
      auto b = json::to_msgpack(json(x));
      expected.insert(expected.end(), b.begin(), b.end());
    }
    json big = json::array();
    for (int i = 0; i < 20; ++i) big.push_back({{"k" + std::to_string(i), i}});
    w.value(big);
    auto b = json::to_msgpack(big);
    expected.insert(expected.end(), b.begin(), b.end());
    w.finish();
    ASSERT_EQ(out.size(), expected.size());
  }
  EXPECT_TRUE(std::equal(out.begin(), out.end(), expected.begin(),
                         [](char c, std::uint8_t u) { return static_cast<std::uint8_t>(c) == u; }));
}

TEST(MsgpackTest, MalformedInputIsRefusedNotOverread) {
  json v = {{"a", {1, -200, 3.5, "text", nullptr, true}}, {"b", {{"c", std::string(40, 'x')}}}};
  std::string bytes = encode(v);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode(bytes.substr(0, n))) << "prefix of " << n;
  EXPECT_FALSE(decode(std::string("\xdd\xff\xff\xff\xff", 5)));  // 4 G items claimed, none there
  EXPECT_FALSE(decode(std::string("\xc1", 1)));                  // never used
  std::string deep(100000, '\x91');                              // arrays nested 100,000 deep
  deep.push_back('\xc0');
  EXPECT_FALSE(decode(deep));
}
