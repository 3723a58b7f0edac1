// libpng reports a fatal error through our error function, which longjmps back to the
// function that called into libpng (png_jmpbuf). As in jpeg.cpp, what that function's
// frame would change after setjmp lives in a caller-owned struct.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <optional>
#include <vector>

#include "preview/codecs.hpp"

namespace bihuan::preview {

namespace {

struct PngJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::string_view bytes;
  std::size_t at = 0;  // read position in bytes
  std::string message;
  std::string refused;
  std::optional<BoxScaler> scaler;
  std::vector<unsigned char> rgba;  // one row, or the whole image when interlaced
  std::vector<unsigned char> rgb;   // one row, laid over white
  unsigned width = 0, height = 0;
};

void png_fail(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  job->message = message ? message : "unknown error";
  png_longjmp(png, 1);
}

void png_quiet(png_structp, png_const_charp) {}

void png_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->bytes.size() - job->at < n) png_error(png, "the file ends early");
  std::memcpy(out, job->bytes.data() + job->at, n);
  job->at += n;
}

void add_over_white(PngJob& job, unsigned y, const unsigned char* rgba) {
  for (unsigned x = 0; x < job.width; ++x) {
    unsigned a = rgba[x * 4 + 3];
    for (int c = 0; c < 3; ++c)
      job.rgb[x * 3 + c] =
          static_cast<unsigned char>((rgba[x * 4 + c] * a + 255 * (255 - a) + 127) / 255);
  }
  job.scaler->add_row(y, job.rgb.data());
}

// 0 = done, 1 = libpng failed (job.message), 2 = refused (job.refused).
int run_png(PngJob& job, const PreviewOptions& options) {
  if (setjmp(png_jmpbuf(job.png))) return 1;
  png_set_read_fn(job.png, &job, png_from_memory);
  png_read_info(job.png, job.info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, colour = 0, interlace = 0;
  png_get_IHDR(job.png, job.info, &w, &h, &depth, &colour, &interlace, nullptr, nullptr);
  std::uint64_t pixels = std::uint64_t(w) * h;
  std::uint64_t limit =
      interlace == PNG_INTERLACE_NONE ? options.max_pixels : options.max_interlaced_pixels;
  if (pixels > limit) {
    job.refused = "the image declares " + std::to_string(w) + " x " + std::to_string(h) +
                  " pixels, more than the " + std::to_string(limit) + " a preview is made from" +
                  (interlace == PNG_INTERLACE_NONE ? "" : " (an interlaced PNG is decoded whole)");
    return 2;
  }
  // Every PNG becomes 8-bit RGBA: palettes and low bit depths expanded, 16 bits scaled,
  // grey made RGB, an opaque alpha added where there is none.
  png_set_expand(job.png);
  png_set_scale_16(job.png);
  png_set_gray_to_rgb(job.png);
  png_set_add_alpha(job.png, 0xff, PNG_FILLER_AFTER);
  int passes = png_set_interlace_handling(job.png);
  png_read_update_info(job.png, job.info);
  if (png_get_rowbytes(job.png, job.info) != std::size_t(w) * 4) {
    job.refused = "an unexpected PNG layout";
    return 2;
  }
  job.width = w;
  job.height = h;
  unsigned tw = 0, th = 0;
  fit_within(w, h, options.max_side, tw, th);
  job.scaler.emplace(w, h, tw, th);
  job.rgb.resize(std::size_t(w) * 3);
  if (passes == 1) {
    job.rgba.resize(std::size_t(w) * 4);
    for (unsigned y = 0; y < h; ++y) {
      png_read_row(job.png, job.rgba.data(), nullptr);
      add_over_white(job, y, job.rgba.data());
    }
  } else {
    job.rgba.resize(std::size_t(w) * 4 * h);
    for (int p = 0; p < passes; ++p)
      for (unsigned y = 0; y < h; ++y)
        png_read_row(job.png, &job.rgba[std::size_t(y) * w * 4], nullptr);
    for (unsigned y = 0; y < h; ++y) add_over_white(job, y, &job.rgba[std::size_t(y) * w * 4]);
  }
  png_read_end(job.png, nullptr);
  return 0;
}

}  // namespace

bool decode_png(std::string_view bytes, const PreviewOptions& options, Rgb& out,
                std::string& error) {
  PngJob job;
  job.bytes = bytes;
  job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_fail, png_quiet);
  if (job.png) job.info = png_create_info_struct(job.png);
  if (!job.png || !job.info) {
    png_destroy_read_struct(job.png ? &job.png : nullptr, nullptr, nullptr);
    error = "out of memory for the PNG decoder";
    return false;
  }
  int r = run_png(job, options);
  png_destroy_read_struct(&job.png, &job.info, nullptr);
  if (r == 1) error = "not a PNG we can read: " + job.message;
  if (r == 2) error = job.refused;
  if (r != 0) return false;
  out = job.scaler->result();
  return true;
}

}  // namespace bihuan::preview
