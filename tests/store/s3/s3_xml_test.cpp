// S3 XML (src/store/s3/s3_xml.cpp): the tag scanner, entity decoding and
// escaping, on what S3 servers send and on what a hostile one could.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "store/s3/s3_xml.h"

namespace blobsync::s3 {
namespace {

TEST(S3Xml, ElementsAndEntities) {
  std::string xml =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<KeyCount>2</KeyCount><Contents><Key>a&amp;b</Key><Size>1</Size></Contents>"
      "<Contents><Key>c</Key><Size>22</Size><ETag>&quot;x&quot;</ETag></Contents><Empty/></ListBucketResult>";
  auto items = xml_elements(xml, "Contents");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(xml_text(items[0], "Key"), "a&b");
  EXPECT_EQ(xml_text(items[1], "Size"), "22");
  EXPECT_EQ(xml_text(items[1], "ETag"), "\"x\"");
  EXPECT_EQ(xml_text(xml, "KeyCount"), "2");  // <KeyCount> is not <Key>
  EXPECT_EQ(xml_elements(xml, "Key").size(), 2u);
  EXPECT_EQ(xml_text(xml, "Empty"), "");
  EXPECT_EQ(xml_text(xml, "Missing"), std::nullopt);
  EXPECT_EQ(xml_unescape("&#65;&#x42;&lt;&bogus;"), "AB<&bogus;");
  EXPECT_EQ(xml_escape("<a&\"'>"), "&lt;a&amp;&quot;&apos;&gt;");
}

TEST(S3Xml, AttributesSelfClosingAndWhitespaceAfterTheName) {
  EXPECT_EQ(xml_text("<Key attr=\"1\">v</Key>", "Key"), "v");
  EXPECT_EQ(xml_text("<Key\n>w</Key>", "Key"), "w");
  auto items = xml_elements("<Part/><Part >x</Part><Part />", "Part");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], "");
  EXPECT_EQ(items[1], "x");
  EXPECT_EQ(items[2], "");
  // A longer name that starts with the tag is another element.
  EXPECT_TRUE(xml_elements("<Keys>a</Keys><KeyMarker>b</KeyMarker>", "Key").empty());
}

// Truncated or malformed documents end the scan; nothing past them is made up.
TEST(S3Xml, TruncatedDocumentsYieldWhatWasComplete) {
  EXPECT_TRUE(xml_elements("<Key>unterminated", "Key").empty());
  EXPECT_TRUE(xml_elements("<Key", "Key").empty());
  EXPECT_TRUE(xml_elements("<Key attr=", "Key").empty());
  EXPECT_TRUE(xml_elements("", "Key").empty());
  auto items = xml_elements("<Key>a</Key><Key>b", "Key");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0], "a");
  EXPECT_EQ(xml_text("<Code>NoSuchKey</Code>", "Message"), std::nullopt);
}

TEST(S3Xml, NumericReferencesBecomeUtf8) {
  EXPECT_EQ(xml_unescape("&#233;"), "\xC3\xA9");
  EXPECT_EQ(xml_unescape("&#x20AC;"), "\xE2\x82\xAC");
  EXPECT_EQ(xml_unescape("&#x1F600;"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(xml_unescape("&#X41;"), "A");
}

// What is not a known entity is kept as written, never dropped or guessed.
TEST(S3Xml, UnknownOrBrokenEntitiesAreKept) {
  EXPECT_EQ(xml_unescape("a & b"), "a & b");
  EXPECT_EQ(xml_unescape("&amp"), "&amp");
  EXPECT_EQ(xml_unescape("&nbsp;"), "&nbsp;");
  EXPECT_EQ(xml_unescape("&#;"), "&#;");
  EXPECT_EQ(xml_unescape("&#x;"), "&#x;");
  EXPECT_EQ(xml_unescape("&#-1;"), "&#-1;");
  EXPECT_EQ(xml_unescape("&#x110000;"), "&#x110000;");  // past U+10FFFF
  EXPECT_EQ(xml_unescape("&#12z;"), "&#12z;");
  EXPECT_EQ(xml_unescape("&averyveryverylongname;"), "&averyveryverylongname;");
}

TEST(S3Xml, EscapeRoundTrips) {
  const std::string key = "photos/<2024> & \"friends\" 'n' more.jpg";
  auto escaped = xml_escape(key);
  EXPECT_EQ(escaped.find_first_of("<>\"'"), std::string::npos);
  EXPECT_EQ(xml_unescape(escaped), key);
  EXPECT_EQ(xml_text("<Key>" + escaped + "</Key>", "Key"), key);
  EXPECT_EQ(xml_escape(""), "");
}

}  // namespace
}  // namespace blobsync::s3
