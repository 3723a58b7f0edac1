// libjpeg reports a fatal error by calling error_exit, which must not return: ours records
// the message and longjmps back to the function that called into libjpeg. Everything that
// function's frame would change after setjmp lives in a caller-owned struct, and no C++
// object with a destructor sits between the setjmp and the longjmp.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include "preview/codecs.hpp"

namespace bihuan::preview {

namespace {

struct JpegFailure {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail_exit(j_common_ptr cinfo) {
  auto* f = reinterpret_cast<JpegFailure*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, f->message);
  std::longjmp(f->jump, 1);
}

void jpeg_quiet(j_common_ptr) {}  // warnings (a truncated file, ...) are not printed

void jpeg_failure_init(JpegFailure& f) {
  jpeg_std_error(&f.mgr);
  f.mgr.error_exit = jpeg_fail_exit;
  f.mgr.output_message = jpeg_quiet;
  f.message[0] = 0;
}

struct DecodeJob {
  JpegFailure failure;
  jpeg_decompress_struct cinfo;
  std::optional<BoxScaler> scaler;
  std::vector<unsigned char> row;
  int orientation = 1;
  std::string refused;  // set (and the decode stopped) by our own checks
};

// 0 = done, 1 = libjpeg failed (job.failure.message), 2 = refused (job.refused).
int run_decode(DecodeJob& job, std::string_view bytes, const PreviewOptions& options) {
  jpeg_decompress_struct& cinfo = job.cinfo;
  cinfo.err = &job.failure.mgr;
  if (setjmp(job.failure.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  std::uint64_t pixels = std::uint64_t(cinfo.image_width) * cinfo.image_height;
  if (pixels > options.max_pixels) {
    job.refused = "the image declares " + std::to_string(cinfo.image_width) + " x " +
                  std::to_string(cinfo.image_height) + " pixels, more than the " +
                  std::to_string(options.max_pixels) + " a preview is made from";
  } else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    job.refused = "a CMYK JPEG (a print file) has no preview";
  }
  if (!job.refused.empty()) {
    jpeg_destroy_decompress(&cinfo);
    return 2;
  }
  for (auto* m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1) {
      int o = exif_orientation(m->data, m->data_length);
      if (o != 1) {
        job.orientation = o;
        break;
      }
    }
  // libjpeg scales by 1/2, 1/4 or 1/8 while it decodes: the largest that still leaves at
  // least the preview's size.
  unsigned tw = 0, th = 0;
  fit_within(cinfo.image_width, cinfo.image_height, options.max_side, tw, th);
  unsigned denom = 8;
  while (denom > 1 && ((cinfo.image_width + denom - 1) / denom < tw ||
                       (cinfo.image_height + denom - 1) / denom < th))
    denom /= 2;
  cinfo.scale_num = 1;
  cinfo.scale_denom = denom;
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  fit_within(cinfo.output_width, cinfo.output_height, options.max_side, tw, th);
  job.scaler.emplace(cinfo.output_width, cinfo.output_height, tw, th);
  job.row.resize(std::size_t(cinfo.output_width) * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned y = cinfo.output_scanline;
    JSAMPROW rows[1] = {job.row.data()};
    if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) break;
    job.scaler->add_row(y, job.row.data());
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

struct EncodeJob {
  JpegFailure failure;
  jpeg_compress_struct cinfo;
  unsigned char* buffer = nullptr;  // jpeg_mem_dest's (malloc'd)
  unsigned long size = 0;
};

bool run_encode(EncodeJob& job, const Rgb& image, int quality) {
  jpeg_compress_struct& cinfo = job.cinfo;
  cinfo.err = &job.failure.mgr;
  if (setjmp(job.failure.jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &job.buffer, &job.size);
  cinfo.image_width = image.width;
  cinfo.image_height = image.height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {const_cast<unsigned char*>(
        &image.pixels[std::size_t(cinfo.next_scanline) * image.width * 3])};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

bool decode_jpeg(std::string_view bytes, const PreviewOptions& options, Rgb& out,
                 std::string& error) {
  DecodeJob job{};
  jpeg_failure_init(job.failure);
  int r = run_decode(job, bytes, options);
  if (r == 1) {
    error = std::string("not a JPEG we can read: ") + job.failure.message;
    return false;
  }
  if (r == 2) {
    error = job.refused;
    return false;
  }
  out = apply_orientation(job.scaler->result(), job.orientation);
  return true;
}

bool encode_jpeg(const Rgb& image, int quality, std::string& out, std::string& error) {
  EncodeJob job{};
  jpeg_failure_init(job.failure);
  bool ok = image.width > 0 && image.height > 0 && run_encode(job, image, quality);
  if (ok)
    out.assign(reinterpret_cast<const char*>(job.buffer), job.size);
  else
    error = std::string("the preview could not be encoded: ") +
            (job.failure.message[0] ? job.failure.message : "empty image");
  std::free(job.buffer);
  return ok;
}

}  // namespace bihuan::preview
