// Parameter parsing, snapping, presets, CDN paths and cache keys.
#include "image/image_params.h"

#include <gtest/gtest.h>

#include <set>

namespace blobsync::image {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

TEST(ImageParams, SnapsUpTheLadder) {
  EXPECT_EQ(snap_size(1), 16);
  EXPECT_EQ(snap_size(16), 16);
  EXPECT_EQ(snap_size(17), 32);
  EXPECT_EQ(snap_size(400), 400);
  EXPECT_EQ(snap_size(401), 480);
  EXPECT_EQ(snap_size(4095), 4096);
  EXPECT_EQ(snap_size(4096), 4096);
  // Every value 1..4096 lands on one of a few sizes: the cache cannot be flooded.
  std::set<int> seen;
  for (int v = 1; v <= kMaxSide; ++v) seen.insert(snap_size(v));
  EXPECT_EQ(seen.size(), std::size(kSizeLadder));
}

TEST(ImageParams, ParsesTheQuery) {
  auto p = parse_query(Query{{"w", "300"}, {"h", "200"}, {"fit", "cover"}, {"format", "webp"}, {"q", "72"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->width, 320);
  EXPECT_EQ(p->height, 256);
  EXPECT_EQ(p->fit, Fit::kCover);
  EXPECT_EQ(p->format, Format::kWebp);
  EXPECT_EQ(p->quality, 75);  // snapped up to a multiple of 5
  auto d = parse_query(Query{{"w", "100"}});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->fit, Fit::kInside);
  EXPECT_EQ(d->format, Format::kJpeg);
  EXPECT_EQ(d->height, 0);
  EXPECT_EQ(d->quality, kDefaultQuality);
  auto sq = parse_query(Query{{"h", "64"}, {"fit", "contain"}});
  ASSERT_TRUE(sq);
  EXPECT_EQ(sq->width, 64);
  auto png = parse_query(Query{{"w", "64"}, {"format", "png"}, {"q", "10"}});
  ASSERT_TRUE(png);
  EXPECT_EQ(png->quality, 0);  // lossless: q does not split the cache
}

TEST(ImageParams, RefusesBadQueries) {
  for (const Query& q : {Query{}, Query{{"w", "0"}}, Query{{"w", "4097"}}, Query{{"w", "-1"}}, Query{{"w", "1x"}},
                         Query{{"w", ""}}, Query{{"w", "10"}, {"w", "10"}}, Query{{"w", "10"}, {"fit", "fill"}},
                         Query{{"w", "10"}, {"format", "gif"}}, Query{{"w", "10"}, {"q", "0"}},
                         Query{{"w", "10"}, {"q", "101"}}, Query{{"w", "10"}, {"x", "1"}},
                         Query{{"w", "99999999999999999999"}}}) {
    auto p = parse_query(q);
    EXPECT_FALSE(p);
    if (!p) {
      EXPECT_EQ(p.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(ImageParams, Presets) {
  auto a = preset("avatar", Format::kWebp);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->width, 1000);
  EXPECT_EQ(a->height, 1000);
  EXPECT_EQ(a->fit, Fit::kCover);
  EXPECT_EQ(preset("banner", Format::kJpeg)->width, 3000);
  EXPECT_EQ(preset("feed_thumbnail", Format::kJpeg)->fit, Fit::kInside);
  EXPECT_EQ(preset("feed_fullsize", Format::kJpeg)->width, 2000);
  EXPECT_FALSE(preset("huge", Format::kJpeg));
  EXPECT_EQ(preset_names().size(), 4u);
}

TEST(ImageParams, CdnPaths) {
  auto p = parse_cdn_path("feed_thumbnail/plain/did:plc:abc/bafkreiabc@webp");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->preset, "feed_thumbnail");
  EXPECT_EQ(p->did, "did:plc:abc");
  EXPECT_EQ(p->cid, "bafkreiabc");
  EXPECT_EQ(p->format, Format::kWebp);
  auto web = parse_cdn_path("avatar/plain/did:web:example.com/bafkreiabc");
  ASSERT_TRUE(web);
  EXPECT_EQ(web->did, "did:web:example.com");
  EXPECT_EQ(web->format, Format::kJpeg);
  for (std::string_view bad : {"", "avatar", "avatar/", "avatar/sig/did:plc:a/b", "avatar/plain/did:plc:a/",
                               "avatar/plain/notadid/b", "avatar/plain/did:plc:a/@jpeg",
                               "avatar/plain/did:plc:a/b@gif", "/plain/did:plc:a/b"})
    EXPECT_FALSE(parse_cdn_path(bad)) << bad;
}

TEST(ImageParams, CacheKeyNamesEveryParameter) {
  Digest a{}, b{};
  b.bytes[0] = 1;
  ImageParams p{.width = 64, .height = 64, .fit = Fit::kCover, .format = Format::kJpeg, .quality = 80};
  std::set<std::string> keys{cache_key(a, p), cache_key(b, p)};
  for (auto change : {+[](ImageParams& x) { x.width = 96; }, +[](ImageParams& x) { x.height = 96; },
                      +[](ImageParams& x) { x.fit = Fit::kInside; }, +[](ImageParams& x) { x.format = Format::kWebp; },
                      +[](ImageParams& x) { x.quality = 85; }}) {
    ImageParams q = p;
    change(q);
    keys.insert(cache_key(a, q));
  }
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_EQ(cache_key(a, p), cache_key(a, p));
  EXPECT_EQ(cache_key(a, p).size(), 64u);
}

}  // namespace
}  // namespace blobsync::image
