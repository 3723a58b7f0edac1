// The pixel work of a preview, free of any codec: a box-filter downscale fed one source
// row at a time, and the EXIF orientations (docs/attachments.md, "Previews").
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bihuan::preview {

// An 8-bit RGB image, rows top to bottom, 3 bytes a pixel.
struct Rgb {
  unsigned width = 0, height = 0;
  std::vector<unsigned char> pixels;  // width * height * 3
};

// The size of a w x h image whose longer side is fitted to `max_side` (never enlarged,
// never below 1 pixel on either side).
void fit_within(unsigned w, unsigned h, unsigned max_side, unsigned& out_w, unsigned& out_h);

// Averages a sw x sh image, given one row at a time in order, into tw x th pixels: every
// source pixel counts towards exactly one preview pixel (tw <= sw, th <= sh).
class BoxScaler {
 public:
  BoxScaler(unsigned sw, unsigned sh, unsigned tw, unsigned th);
  // Row `y` (0..sh-1, each once) as `sw` pixels of 3 bytes (RGB).
  void add_row(unsigned y, const unsigned char* rgb);
  Rgb result() const;

 private:
  unsigned sw_, sh_, tw_, th_;
  std::vector<std::uint64_t> sum_;    // tw * th * 3
  std::vector<std::uint32_t> count_;  // tw * th
  std::vector<unsigned> column_;      // source x -> preview x
};

// The EXIF orientation (1..8) an APP1 "Exif" segment states, or 1 (as stored) when it
// states none or is not one. Bounds-checked: any offset outside the segment counts as none.
int exif_orientation(const unsigned char* app1, std::size_t size);

// `image` turned the way orientation `o` (1..8, EXIF tag 0x0112) says to display it.
Rgb apply_orientation(const Rgb& image, int o);

}  // namespace bihuan::preview
