// render(): formats, fits, metadata stripped, hostile inputs refused.
#include "image/render.h"

#include <gtest/gtest.h>

#include <stdio.h>  // popen

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace blobsync::image {
namespace {

// CTest runs these tests as parallel processes: each gets its own files,
// removed when the process's tests end.
std::string tmp_prefix() { return "blobsync-render-" + std::to_string(::getpid()) + "-"; }
std::string tmp(const std::string& name) { return ::testing::TempDir() + "/" + tmp_prefix() + name; }

class RemoveTempFiles : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir(), ec))
      if (e.path().filename().string().starts_with(tmp_prefix())) std::filesystem::remove(e.path(), ec);
  }
};
[[maybe_unused]] const auto* const kRemoveTempFiles = ::testing::AddGlobalTestEnvironment(new RemoveTempFiles);

// A test image made by the vips CLI (libvips-tools, as the server's tests
// use): `vips <op_and_input> <TempDir>/<name> <rest>`.
std::string make_image(const std::string& name, const std::string& op_and_input, const std::string& rest = "") {
  std::string path = tmp(name);
  std::string cmd = "vips " + op_and_input + " '" + path + "' " + rest + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return {};
  std::ifstream in(path.substr(0, path.find('[')), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A 300x200 JPEG that carries EXIF (libvips writes resolution and orientation).
std::string jpeg_with_exif() {
  std::string v = tmp("src.v");
  if (std::system(("vips black '" + v + "' 300 200 --bands 3 >/dev/null 2>&1").c_str()) != 0) return {};
  return make_image("src.jpg", "linear '" + v + "'", "1 40 --uchar");
}

ImageParams params(int w, int h, Fit fit, Format f) {
  return ImageParams{.width = w, .height = h, .fit = fit, .format = f, .quality = f == Format::kPng ? 0 : 80};
}

bool has(const std::string& bytes, std::string_view s) { return bytes.find(s) != std::string::npos; }

TEST(Render, FitsAndFormatsWithoutMetadata) {
  ASSERT_TRUE(init());
  std::string src = jpeg_with_exif();
  ASSERT_FALSE(src.empty());
  ASSERT_TRUE(has(src, "Exif"));
  for (Format f : {Format::kJpeg, Format::kWebp, Format::kPng, Format::kAvif}) {
    auto cover = render(src, params(64, 64, Fit::kCover, f), {});
    ASSERT_TRUE(cover) << cover.error().to_string();
    EXPECT_EQ(cover->width, 64);
    EXPECT_EQ(cover->height, 64);
    EXPECT_FALSE(has(cover->bytes, "Exif")) << format_name(f);
    EXPECT_FALSE(has(cover->bytes, "EXIF")) << format_name(f);
    EXPECT_FALSE(has(cover->bytes, "eXIf")) << format_name(f);
  }
  auto inside = render(src, params(150, 150, Fit::kInside, Format::kJpeg), {});
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->width, 150);
  EXPECT_EQ(inside->height, 100);
  auto contain = render(src, params(150, 150, Fit::kContain, Format::kPng), {});
  ASSERT_TRUE(contain);
  EXPECT_EQ(contain->width, 150);
  EXPECT_EQ(contain->height, 150);
  auto never_enlarged = render(src, params(1000, 0, Fit::kInside, Format::kJpeg), {});
  ASSERT_TRUE(never_enlarged);
  EXPECT_EQ(never_enlarged->width, 300);
}

TEST(Render, RefusesWhatIsNotAnImage) {
  auto r = render("hello, not an image", params(64, 64, Fit::kCover, Format::kJpeg), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_EQ(render("", params(64, 64, Fit::kCover, Format::kJpeg), {}).error().code, Errc::kUnsupported);
  // A format libvips reads but this server does not take from strangers.
  std::string v = tmp("t.v");
  ASSERT_EQ(std::system(("vips black '" + v + "' 10 10 >/dev/null 2>&1").c_str()), 0);
  std::string tiff = make_image("t.tif", "copy '" + v + "'");
  ASSERT_FALSE(tiff.empty());
  EXPECT_EQ(render(tiff, params(8, 8, Fit::kCover, Format::kJpeg), {}).error().code, Errc::kUnsupported);
}

TEST(Render, PixelLimitFromTheHeader) {
  std::string src = jpeg_with_exif();  // 300 x 200 = 60000 pixels
  auto r = render(src, params(64, 64, Fit::kCover, Format::kJpeg), RenderLimits{.max_pixels = 59'999});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTooLarge);
  EXPECT_NE(r.error().message.find("300x200"), std::string::npos) << r.error().message;
  EXPECT_TRUE(render(src, params(64, 64, Fit::kCover, Format::kJpeg), RenderLimits{.max_pixels = 60'000}));
}

TEST(Render, TruncatedIsInvalid) {
  std::string src = jpeg_with_exif();
  auto r = render(std::string_view(src).substr(0, src.size() / 2), params(64, 64, Fit::kCover, Format::kJpeg), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
}

TEST(Render, TimeLimitKillsTheRender) {
  std::string v = tmp("big.v");
  ASSERT_EQ(std::system(("vips gaussnoise '" + v + "' 2000 2000 >/dev/null 2>&1").c_str()), 0);
  std::string src = make_image("big.png", "copy '" + v + "'");
  ASSERT_FALSE(src.empty());
  auto r = render(src, params(4096, 4096, Fit::kInside, Format::kPng),
                  RenderLimits{.max_pixels = 100'000'000, .timeout = std::chrono::milliseconds(1)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTimeout) << r.error().to_string();
}

// `vipsheader -f <field>` (or `vips getpoint`) of rendered bytes.
std::string probe(const std::string& bytes, const std::string& command, const std::string& after = "") {
  std::string path = tmp("probe.img");
  std::ofstream(path, std::ios::binary) << bytes;
  std::string out;
  FILE* p = ::popen((command + " '" + path + "' " + after + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

TEST(Render, CmykWithAProfileComesOutSrgb) {
  std::string v = tmp("c.v");
  ASSERT_EQ(std::system(("vips black '" + v + "' 64 64 --bands 3 >/dev/null 2>&1 && vips linear '" + v + "' '" +
                         tmp("c2.v") + "' 1 100 --uchar >/dev/null 2>&1")
                            .c_str()),
            0);
  std::string cmyk = make_image("cmyk.jpg", "icc_export '" + tmp("c2.v") + "'", "--output-profile cmyk");
  ASSERT_FALSE(cmyk.empty());
  ASSERT_NE(probe(cmyk, "vipsheader -f interpretation").find("CMYK"), std::string::npos);
  for (Format f : {Format::kJpeg, Format::kPng}) {
    auto r = render(cmyk, params(32, 32, Fit::kCover, f), {});
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_NE(probe(r->bytes, "vipsheader -f interpretation").find("sRGB"), std::string::npos) << format_name(f);
    EXPECT_EQ(probe(r->bytes, "vipsheader -f bands"), "3") << format_name(f);
    EXPECT_EQ(probe(r->bytes, "vipsheader -f icc-profile-data"), "") << "the profile is gone with the metadata";
  }
}

// A 1x1 GIF89a of two frames, white then black (LZW data written out by hand).
std::string two_frame_gif() {
  const unsigned char bytes[] = {
      'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,  // screen 1x1, 2-colour table
      0xff, 0xff, 0xff, 0, 0, 0,                             // white, black
      0x21, 0xff, 11, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0', 3, 1, 0, 0, 0,  // loop
      0x21, 0xf9, 4, 0, 10, 0, 0, 0,                         // 100 ms
      0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0,  // frame 1: index 0
      0x21, 0xf9, 4, 0, 10, 0, 0, 0,
      0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0,  // frame 2: index 1
      0x3b};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

TEST(Render, AnAnimationGivesItsFirstFrame) {
  std::string gif = two_frame_gif();
  ASSERT_EQ(probe(gif, "vipsheader -f n-pages"), "2");
  auto r = render(gif, params(16, 16, Fit::kCover, Format::kPng), {});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->width, 16);
  EXPECT_EQ(r->height, 16) << "one frame, not a strip of two";
  std::string px = probe(r->bytes, "vips getpoint", "8 8");
  EXPECT_GT(std::atoi(px.c_str()), 200) << "white: the first frame (" << px << ")";
  EXPECT_EQ(probe(r->bytes, "vipsheader -f n-pages"), "") << "no page count survives";
}

}  // namespace
}  // namespace blobsync::image
