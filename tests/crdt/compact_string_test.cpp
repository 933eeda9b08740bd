// Compact string content (issue #20): a string whose code units are all below
// 0x100 is kept at one byte per unit and widens to UTF-16 the moment a wider
// unit arrives (merge, or a whole wide insert); lengths, splits, surrogate
// handling and the bytes written stay those of UTF-16 (as yjs).
#include <gtest/gtest.h>

#include <string>

#include "crdt/content.h"
#include "crdt/doc.h"
#include "crdt/text.h"

using namespace blobsync::crdt;

namespace {

std::u16string text_of(Doc& d) { return d.get_text("t").to_u16string(); }

}  // namespace

TEST(CompactString, Latin1IsOneBytePerUnit) {
  Content c = Content::string(u"h\u00e9llo w\u00f6rld");
  EXPECT_TRUE(c.narrow());
  EXPECT_EQ(c.length(), 11u);
  EXPECT_EQ(c.str(), u"h\u00e9llo w\u00f6rld");
  EXPECT_LT(c.capacity(), 2 * 11u);  // in the small-string buffer, one byte each
  Content w = Content::string(u"a\u20acb");
  EXPECT_FALSE(w.narrow());
  EXPECT_EQ(w.length(), 3u);
  EXPECT_EQ(w.str(), u"a\u20acb");
}

TEST(CompactString, MergeWidensOnlyWhenNeeded) {
  Content a = Content::string(u"abc");
  Content b = Content::string(u"\u00ff");
  ASSERT_TRUE(a.merge_with(b));
  EXPECT_TRUE(a.narrow());
  Content e = Content::string(u"\U0001F600x");  // a surrogate pair, then x
  ASSERT_TRUE(a.merge_with(e));
  EXPECT_FALSE(a.narrow());
  EXPECT_EQ(a.str(), u"abc\u00ff\U0001F600x");
  Content n = Content::string(u"yz");
  ASSERT_TRUE(a.merge_with(n));  // narrow onto wide
  EXPECT_EQ(a.str(), u"abc\u00ff\U0001F600xyz");
  EXPECT_EQ(a.length(), 9u);
}

TEST(CompactString, SplitsCountUtf16UnitsInBothForms) {
  for (std::u16string s : {std::u16string(u"0123456789abcdef"), std::u16string(u"01234\u4e2d6789abcdef")}) {
    for (uint64_t at = 1; at < s.size(); ++at) {
      Content left = Content::string(s);
      Content right = left.splice(at);
      EXPECT_EQ(left.str() + right.str(), s) << at;
      EXPECT_EQ(left.length(), at);
      Content back = right.clone();
      EXPECT_EQ(back.str(), s.substr(at));
    }
  }
}

TEST(CompactString, SplitInsideASurrogatePairGivesReplacementCharacters) {
  Content c = Content::string(u"a\U0001F600b");  // a, high, low, b
  Content r = c.splice(2);
  EXPECT_EQ(c.str(), u"a\ufffd");
  EXPECT_EQ(r.str(), u"\ufffdb");
}

TEST(CompactString, EncodedUpdatesMatchWhateverTheStorage) {
  // The same edits as Latin-1 and mixed text round-trip through updates
  // and give the same text on a second doc.
  Doc a(1);
  auto t = a.get_text("t");
  ASSERT_TRUE(t.insert(0, u"caf\u00e9 "));
  ASSERT_TRUE(t.insert(5, u"au lait"));
  ASSERT_TRUE(t.insert(0, u"\u00bb"));
  ASSERT_TRUE(t.insert(t.length(), u" \U0001F375 ok"));
  ASSERT_TRUE(t.remove(3, 2));
  Doc b(2);
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update()).has_value());
  EXPECT_EQ(text_of(b), text_of(a));
  EXPECT_EQ(text_of(a), u"\u00bbca au lait \U0001F375 ok");
  EXPECT_EQ(b.encode_state_as_update(), a.encode_state_as_update());
  EXPECT_EQ(b.get_text("t").to_string(), "\u00bbca au lait \U0001F375 ok");
}
