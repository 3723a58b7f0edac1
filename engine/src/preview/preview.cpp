#include "bihuan/preview.hpp"

#include <exception>

#include "preview/codecs.hpp"

namespace bihuan {

bool previewable(std::string_view content_type) {
  return content_type == "image/jpeg" || content_type == "image/png";
}

Preview make_preview(std::string_view bytes, std::string_view content_type,
                     const PreviewOptions& options) {
  Preview p;
  preview::Rgb image;
  try {
    bool decoded = false;
    if (content_type == "image/jpeg")
      decoded = preview::decode_jpeg(bytes, options, image, p.error);
    else if (content_type == "image/png")
      decoded = preview::decode_png(bytes, options, image, p.error);
    else
      p.error = std::string(content_type) + " has no preview (only JPEG and PNG images have)";
    if (decoded && preview::encode_jpeg(image, options.quality, p.jpeg, p.error)) {
      p.ok = true;
      p.width = image.width;
      p.height = image.height;
    }
  } catch (const std::exception& e) {  // out of memory
    p.ok = false;
    p.error = std::string("no preview: ") + e.what();
  }
  return p;
}

}  // namespace bihuan
