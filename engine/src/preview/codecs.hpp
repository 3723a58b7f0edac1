// The codecs behind make_preview(): libjpeg(-turbo) and libpng, each behind a function that
// never throws for bad input and never lets a codec's longjmp cross a C++ frame.
#pragma once

#include <string>
#include <string_view>

#include "bihuan/preview.hpp"
#include "preview/raster.hpp"

namespace bihuan::preview {

// Decodes a JPEG into its preview-sized, upright RGB image. False and `error` when the
// image is not one we can read (corrupt, CMYK, larger than the options allow).
bool decode_jpeg(std::string_view bytes, const PreviewOptions& options, Rgb& out,
                 std::string& error);
// The same for a PNG (every colour type and bit depth; alpha laid over white).
bool decode_png(std::string_view bytes, const PreviewOptions& options, Rgb& out,
                std::string& error);
// Encodes `image` as a baseline JPEG of `quality` (1..100).
bool encode_jpeg(const Rgb& image, int quality, std::string& out, std::string& error);

}  // namespace bihuan::preview
