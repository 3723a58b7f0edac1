// Previews of image attachments (docs/attachments.md, "Previews"): real JPEG and PNG files
// made by libjpeg and libpng, previews read back and looked at pixel by pixel.
#include "bihuan/preview.hpp"

#include <gtest/gtest.h>

#include "preview/images.hpp"

namespace bihuan {
namespace {

images::Paint red_blue(unsigned w) {
  return [w](unsigned x, unsigned y) { return images::red_blue(x, y, w); };
}

TEST(PreviewTest, AJpegPhotoShrinksToFitTheLongerSideAndKeepsItsPicture) {
  auto p = make_preview(images::jpeg(1200, 800, red_blue(1200)), "image/jpeg");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.width, 320u);
  EXPECT_EQ(p.height, 213u);
  auto d = images::decode(p.jpeg);
  ASSERT_EQ(d.width, 320u);
  ASSERT_EQ(d.height, 213u);
  EXPECT_TRUE(images::reddish(d.at(40, 100)));
  EXPECT_TRUE(images::bluish(d.at(280, 100)));
  EXPECT_LT(p.jpeg.size(), 30000u);
}

TEST(PreviewTest, EveryExifOrientationStandsThePreviewUpright) {
  // The stored pixels are left red, right blue; each orientation says how to display them.
  struct Case {
    int o;
    unsigned w, h;
    unsigned rx, ry, bx, by;  // where red and blue must then be seen
  };
  // Landscape 300x200 stored. 1-4 keep 300x200; 5-8 turn it to 200x300.
  const Case cases[] = {
      {1, 300, 200, 30, 100, 270, 100}, {2, 300, 200, 270, 100, 30, 100},
      {3, 300, 200, 270, 100, 30, 100}, {4, 300, 200, 30, 100, 270, 100},
      {5, 200, 300, 100, 30, 100, 270}, {6, 200, 300, 100, 30, 100, 270},
      {7, 200, 300, 100, 270, 100, 30}, {8, 200, 300, 100, 270, 100, 30},
  };
  for (const auto& c : cases) {
    auto p = make_preview(images::jpeg(300, 200, red_blue(300), c.o), "image/jpeg");
    ASSERT_TRUE(p.ok) << c.o << ": " << p.error;
    auto d = images::decode(p.jpeg);
    ASSERT_EQ(d.width, c.w) << "orientation " << c.o;
    ASSERT_EQ(d.height, c.h) << "orientation " << c.o;
    EXPECT_TRUE(images::reddish(d.at(c.rx, c.ry))) << "orientation " << c.o;
    EXPECT_TRUE(images::bluish(d.at(c.bx, c.by))) << "orientation " << c.o;
  }
}

TEST(PreviewTest, ASmallImageIsNotEnlarged) {
  auto p = make_preview(images::jpeg(100, 50, red_blue(100)), "image/jpeg");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.width, 100u);
  EXPECT_EQ(p.height, 50u);
}

TEST(PreviewTest, PngsOfEveryKindIncludingInterlacedAndTransparent) {
  // Transparent on the right: laid over white.
  auto paint = [](unsigned x, unsigned) {
    return x < 400 ? images::Pixel{220, 20, 20, 255} : images::Pixel{0, 0, 0, 0};
  };
  for (bool interlaced : {false, true}) {
    auto p = make_preview(images::png(800, 600, paint, interlaced), "image/png");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.width, 320u);
    EXPECT_EQ(p.height, 240u);
    auto d = images::decode(p.jpeg);
    EXPECT_TRUE(images::reddish(d.at(40, 120))) << "interlaced " << interlaced;
    auto white = d.at(280, 120);
    EXPECT_GT(white.r, 240) << "interlaced " << interlaced;
    EXPECT_GT(white.g, 240);
    EXPECT_GT(white.b, 240);
  }
}

TEST(PreviewTest, AnImageDeclaringTooManyPixelsIsRefusedBeforeDecoding) {
  PreviewOptions small;
  small.max_pixels = 100 * 100;
  auto j = make_preview(images::jpeg(200, 100, red_blue(200)), "image/jpeg", small);
  EXPECT_FALSE(j.ok);
  EXPECT_NE(j.error.find("declares 200 x 100 pixels"), std::string::npos) << j.error;
  auto paint = [](unsigned, unsigned) { return images::Pixel{1, 2, 3}; };
  auto p = make_preview(images::png(200, 100, paint), "image/png", small);
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("declares 200 x 100 pixels"), std::string::npos) << p.error;
  PreviewOptions whole;
  whole.max_interlaced_pixels = 100 * 100;
  EXPECT_TRUE(make_preview(images::png(200, 100, paint), "image/png", whole).ok);
  auto i = make_preview(images::png(200, 100, paint, true), "image/png", whole);
  EXPECT_FALSE(i.ok);
  EXPECT_NE(i.error.find("interlaced"), std::string::npos) << i.error;
}

TEST(PreviewTest, CorruptOrOtherFilesAnswerWhyWithoutCrashing) {
  std::string good = images::jpeg(300, 200, red_blue(300));
  auto garbage = make_preview("not an image at all", "image/jpeg");
  EXPECT_FALSE(garbage.ok);
  EXPECT_NE(garbage.error.find("not a JPEG we can read"), std::string::npos) << garbage.error;
  auto header_only = make_preview(good.substr(0, 40), "image/jpeg");
  EXPECT_FALSE(header_only.ok) << "a JPEG cut inside its header";
  // Cut in the middle of the pixels: libjpeg fills the rest; a preview of what is there.
  auto cut = make_preview(good.substr(0, good.size() / 2), "image/jpeg");
  EXPECT_TRUE(cut.ok) << cut.error;
  auto paint = [](unsigned, unsigned) { return images::Pixel{1, 2, 3}; };
  std::string png = images::png(50, 50, paint);
  auto bad_png = make_preview(png.substr(0, png.size() - 30), "image/png");
  EXPECT_FALSE(bad_png.ok);
  EXPECT_NE(bad_png.error.find("not a PNG we can read"), std::string::npos) << bad_png.error;
  auto pdf = make_preview("%PDF-1.4\n%%EOF\n", "application/pdf");
  EXPECT_FALSE(pdf.ok);
  EXPECT_NE(pdf.error.find("application/pdf has no preview"), std::string::npos) << pdf.error;
  EXPECT_TRUE(previewable("image/png"));
  EXPECT_FALSE(previewable("application/pdf"));
}

}  // namespace
}  // namespace bihuan
