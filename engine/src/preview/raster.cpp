#include "preview/raster.hpp"

#include <algorithm>
#include <cstring>

namespace bihuan::preview {

void fit_within(unsigned w, unsigned h, unsigned max_side, unsigned& out_w, unsigned& out_h) {
  unsigned longer = std::max(w, h);
  if (longer <= max_side || max_side == 0) {
    out_w = w;
    out_h = h;
    return;
  }
  auto scaled = [&](unsigned side) {
    auto v = (static_cast<std::uint64_t>(side) * max_side + longer / 2) / longer;
    return static_cast<unsigned>(std::max<std::uint64_t>(1, v));
  };
  out_w = scaled(w);
  out_h = scaled(h);
}

BoxScaler::BoxScaler(unsigned sw, unsigned sh, unsigned tw, unsigned th)
    : sw_(sw),
      sh_(sh),
      tw_(tw),
      th_(th),
      sum_(static_cast<std::size_t>(tw) * th * 3, 0),
      count_(static_cast<std::size_t>(tw) * th, 0),
      column_(sw) {
  for (unsigned x = 0; x < sw; ++x)
    column_[x] = static_cast<unsigned>(static_cast<std::uint64_t>(x) * tw / sw);
}

void BoxScaler::add_row(unsigned y, const unsigned char* rgb) {
  if (y >= sh_) return;
  auto ty = static_cast<unsigned>(static_cast<std::uint64_t>(y) * th_ / sh_);
  std::uint64_t* sums = &sum_[static_cast<std::size_t>(ty) * tw_ * 3];
  std::uint32_t* counts = &count_[static_cast<std::size_t>(ty) * tw_];
  for (unsigned x = 0; x < sw_; ++x) {
    unsigned tx = column_[x];
    sums[tx * 3] += rgb[x * 3];
    sums[tx * 3 + 1] += rgb[x * 3 + 1];
    sums[tx * 3 + 2] += rgb[x * 3 + 2];
    ++counts[tx];
  }
}

Rgb BoxScaler::result() const {
  Rgb out{tw_, th_, std::vector<unsigned char>(sum_.size(), 0)};
  for (std::size_t i = 0; i < count_.size(); ++i) {
    std::uint64_t n = count_[i];
    if (n == 0) continue;
    for (int c = 0; c < 3; ++c)
      out.pixels[i * 3 + c] = static_cast<unsigned char>((sum_[i * 3 + c] + n / 2) / n);
  }
  return out;
}

int exif_orientation(const unsigned char* p, std::size_t n) {
  // "Exif\0\0", then a TIFF header: byte order (II/MM), 42, the offset of IFD0.
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const unsigned char* t = p + 6;
  std::size_t tn = n - 6;
  bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    return little ? t[at] | (t[at + 1] << 8) : (t[at] << 8) | t[at + 1];
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? t[at] | (t[at + 1] << 8) | (t[at + 2] << 16) | (std::uint32_t(t[at + 3]) << 24)
                  : (std::uint32_t(t[at]) << 24) | (t[at + 1] << 16) | (t[at + 2] << 8) | t[at + 3];
  };
  if (u16(2) != 42) return 1;
  std::size_t ifd = u32(4);
  if (ifd + 2 > tn) return 1;
  std::uint32_t entries = u16(ifd);
  for (std::uint32_t i = 0; i < entries; ++i) {
    std::size_t e = ifd + 2 + static_cast<std::size_t>(i) * 12;
    if (e + 12 > tn) return 1;
    if (u16(e) == 0x0112 && u16(e + 2) == 3) {  // Orientation, SHORT
      std::uint32_t o = u16(e + 8);
      return o >= 1 && o <= 8 ? static_cast<int>(o) : 1;
    }
  }
  return 1;
}

Rgb apply_orientation(const Rgb& in, int o) {
  if (o < 2 || o > 8) return in;
  // Each orientation as: swap the axes (5-8), then mirror x and/or y, applied to the
  // preview pixel (ox, oy) to find its stored pixel.
  struct Turn {
    bool swap, mirror_x, mirror_y;
  };
  static constexpr Turn kTurns[9] = {{},
                                     {},
                                     {false, true, false},  // 2: mirrored
                                     {false, true, true},   // 3: upside down
                                     {false, false, true},  // 4: mirrored, upside down
                                     {true, false, false},  // 5: transposed
                                     {true, false, true},   // 6: turn 90 degrees clockwise
                                     {true, true, true},    // 7: transversed
                                     {true, true, false}};  // 8: turn 90 degrees anticlockwise
  const Turn t = kTurns[o];
  const unsigned w = in.width, h = in.height;
  Rgb out{t.swap ? h : w, t.swap ? w : h, std::vector<unsigned char>(in.pixels.size())};
  for (unsigned oy = 0; oy < out.height; ++oy)
    for (unsigned ox = 0; ox < out.width; ++ox) {
      unsigned a = t.swap ? oy : ox, b = t.swap ? ox : oy;
      unsigned sx = t.mirror_x ? w - 1 - a : a, sy = t.mirror_y ? h - 1 - b : b;
      std::memcpy(&out.pixels[(static_cast<std::size_t>(oy) * out.width + ox) * 3],
                  &in.pixels[(static_cast<std::size_t>(sy) * w + sx) * 3], 3);
    }
  return out;
}

}  // namespace bihuan::preview
