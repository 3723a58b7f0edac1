// Small previews of image attachments (docs/attachments.md, "Previews"): a baseline JPEG
// whose longer side is at most `max_side` pixels, for a timeline or a list of evidence.
//
// Decoding is bounded, because an upload is untrusted: the image's declared size is read
// from its header and an image of more than `max_pixels` is refused before any pixel is
// decoded (a 100 KB file can declare a canvas of 60,000 x 60,000). Memory holds a few rows
// of the image and the preview, never the whole image: JPEGs are decoded at 1/2 to 1/8
// scale by libjpeg itself, PNGs a row at a time (an interlaced PNG needs the whole image:
// it is refused above `max_interlaced_pixels`). The downscale averages every source pixel
// into its preview pixel (a box filter). A JPEG's EXIF orientation (a phone's "this side
// up") is applied, so the preview stands as the photo was taken. Transparent PNG pixels are
// laid over white.
//
// Thread-safety: no shared state; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bihuan {

struct PreviewOptions {
  unsigned max_side = 320;
  std::uint64_t max_pixels = 100'000'000;            // declared width x height
  std::uint64_t max_interlaced_pixels = 16'000'000;  // interlaced PNG: decoded whole
  int quality = 80;                                  // JPEG quality of the preview
};

struct Preview {
  bool ok = false;
  std::string jpeg;                // ok: the preview's bytes (image/jpeg)
  unsigned width = 0, height = 0;  // ok: the preview's size, orientation applied
  std::string error;               // !ok: a sentence (not an image we preview, corrupt, too large)
};

// True for the content types make_preview() reads: image/jpeg and image/png.
bool previewable(std::string_view content_type);

// The preview of an image file's bytes, `content_type` being what the bytes are (as the
// attachment store detected it). Never throws for bad input: a corrupt or unsupported
// image answers !ok with the reason.
Preview make_preview(std::string_view bytes, std::string_view content_type,
                     const PreviewOptions& options = {});

}  // namespace bihuan
