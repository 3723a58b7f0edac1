// Previews of image attachments (docs/PERFORMANCE.md, "Previews"): the time make_preview()
// takes for a phone photo (4000 x 3000 JPEG, 12 MP), a scan (2480 x 3508 PNG, A4 at 300
// dpi) and a small picture. The images are made once, in memory, by the tests' encoder.
#include <benchmark/benchmark.h>

#include "bihuan/preview.hpp"
#include "preview/images.hpp"  // tests/ is on the include path

namespace {

images::Pixel gradient(unsigned x, unsigned y) {
  return {static_cast<unsigned char>(x * 7), static_cast<unsigned char>(y * 5),
          static_cast<unsigned char>((x ^ y) & 0xff)};
}

void preview_of(benchmark::State& state, const std::string& bytes, const char* type) {
  for (auto _ : state) {
    auto p = bihuan::make_preview(bytes, type);
    if (!p.ok) state.SkipWithError(p.error.c_str());
    benchmark::DoNotOptimize(p.jpeg.data());
  }
  state.counters["MiB_in"] = static_cast<double>(bytes.size()) / (1 << 20);
}

void BM_PreviewPhotoJpeg12MP(benchmark::State& state) {
  static const std::string photo = images::jpeg(4000, 3000, gradient, 6);
  preview_of(state, photo, "image/jpeg");
}
void BM_PreviewScanPngA4(benchmark::State& state) {
  static const std::string scan = images::png(2480, 3508, gradient);
  preview_of(state, scan, "image/png");
}
void BM_PreviewSmallJpeg(benchmark::State& state) {
  static const std::string small = images::jpeg(640, 480, gradient);
  preview_of(state, small, "image/jpeg");
}
BENCHMARK(BM_PreviewPhotoJpeg12MP)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreviewScanPngA4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreviewSmallJpeg)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
