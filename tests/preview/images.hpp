// Real JPEG and PNG images made in memory for the preview tests (libjpeg, libpng), and a
// decoder that reads a preview back. Header-only: test_preview and test_api include it.
#pragma once

#include <jpeglib.h>
#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace images {

struct Pixel {
  unsigned char r, g, b, a = 255;
};
using Paint = std::function<Pixel(unsigned x, unsigned y)>;

// Left half red, right half blue.
inline Pixel red_blue(unsigned x, unsigned, unsigned w) {
  return x < w / 2 ? Pixel{220, 20, 20} : Pixel{20, 20, 220};
}

// An APP1 Exif segment (big-endian TIFF) stating one orientation.
inline std::string exif_with_orientation(int o) {
  std::string s("Exif\0\0MM\0\x2a\0\0\0\x08", 14);
  s += std::string("\0\x01", 2);                    // one entry
  s += std::string("\x01\x12\0\x03\0\0\0\x01", 8);  // 0x0112 SHORT count 1
  s += std::string(1, '\0') + std::string(1, char(o)) + std::string(2, '\0');
  s += std::string(4, '\0');  // no next IFD
  return s;
}

inline std::string jpeg(unsigned w, unsigned h, const Paint& paint, int orientation = 1) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  if (orientation != 1) {
    std::string app1 = exif_with_orientation(orientation);
    jpeg_write_marker(&c, JPEG_APP0 + 1, reinterpret_cast<const JOCTET*>(app1.data()),
                      static_cast<unsigned>(app1.size()));
  }
  std::vector<unsigned char> row(std::size_t(w) * 3);
  while (c.next_scanline < h) {
    for (unsigned x = 0; x < w; ++x) {
      Pixel p = paint(x, c.next_scanline);
      row[x * 3] = p.r;
      row[x * 3 + 1] = p.g;
      row[x * 3 + 2] = p.b;
    }
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&c, rows, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<char*>(buf), size);
  std::free(buf);
  return out;
}

inline void png_append(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), n);
}
inline void png_no_flush(png_structp) {}

// An 8-bit RGBA PNG, interlaced (Adam7) or not.
inline std::string png(unsigned w, unsigned h, const Paint& paint, bool interlaced = false) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, png_append, png_no_flush);
  png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGBA,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<unsigned char> pixels(std::size_t(w) * h * 4);
  std::vector<png_bytep> rows(h);
  for (unsigned y = 0; y < h; ++y) {
    rows[y] = &pixels[std::size_t(y) * w * 4];
    for (unsigned x = 0; x < w; ++x) {
      Pixel p = paint(x, y);
      unsigned char* q = rows[y] + x * 4;
      q[0] = p.r;
      q[1] = p.g;
      q[2] = p.b;
      q[3] = p.a;
    }
  }
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

struct Decoded {
  unsigned width = 0, height = 0;
  std::vector<unsigned char> rgb;
  Pixel at(unsigned x, unsigned y) const {
    const unsigned char* p = &rgb[(std::size_t(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

// A JPEG's pixels (for checking a preview).
inline Decoded decode(const std::string& jpeg_bytes) {
  jpeg_decompress_struct d{};
  jpeg_error_mgr err{};
  d.err = jpeg_std_error(&err);
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, reinterpret_cast<const unsigned char*>(jpeg_bytes.data()), jpeg_bytes.size());
  jpeg_read_header(&d, TRUE);
  d.out_color_space = JCS_RGB;
  jpeg_start_decompress(&d);
  Decoded out{d.output_width, d.output_height, {}};
  out.rgb.resize(std::size_t(out.width) * out.height * 3);
  while (d.output_scanline < d.output_height) {
    JSAMPROW rows[1] = {&out.rgb[std::size_t(d.output_scanline) * out.width * 3]};
    jpeg_read_scanlines(&d, rows, 1);
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return out;
}

inline bool reddish(Pixel p) { return p.r > 150 && p.b < 100; }
inline bool bluish(Pixel p) { return p.b > 150 && p.r < 100; }

}  // namespace images
