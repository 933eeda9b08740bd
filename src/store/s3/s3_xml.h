// S3Xml: just enough XML for S3 responses and CompleteMultipartUpload bodies.
//
// S3 answers with small, flat documents (<ListBucketResult><Contents><Key>..)
// whose elements never nest inside an element of the same name, so a tag
// scanner is enough: no DTDs, no namespaces beyond an ignored xmlns on the
// root, entities limited to the five predefined ones and numeric references.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blobsync::s3 {

// Raw inner text of every <tag>...</tag> (or <tag attr="..">...</tag>) in
// document order; <tag/> yields an empty view. Not unescaped.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);

// Unescaped text of the first <tag>, if any.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);

// &amp; &lt; &gt; &quot; &apos; &#N; &#xN; decoded (UTF-8); others kept as is.
std::string xml_unescape(std::string_view text);
std::string xml_escape(std::string_view text);

}  // namespace blobsync::s3
