// The management API's JSON reader (strict RFC 8259, no allocation) and writer.
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/json_writer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;
using halcyon::ErrorCode;

struct Parsed {
    std::vector<JsonToken> tokens = std::vector<JsonToken>(256);
    std::string text;
    JsonParseError error; // before `document`, which fills it while it is constructed
    halcyon::ErrorOr<JsonDocument> document;

    explicit Parsed(std::string input, JsonLimits limits = {})
        : text(std::move(input)), document(JsonDocument::parse(text, tokens, limits, &error)) {}
    bool ok() const { return !document.is_error(); }
    JsonValue root() const { return document.value().root(); }
};

bool accepts(const std::string& text) {
    return Parsed(text).ok();
}

TEST(MgmtJsonReader, AcceptsEveryKindOfValue) {
    for (const char* text : {"{}",
                             "[]",
                             "0",
                             "-0",
                             "1",
                             "-1",
                             "123",
                             "1.5",
                             "-0.25",
                             "1e9",
                             "1E+9",
                             "2e-3",
                             "0.0e0",
                             "true",
                             "false",
                             "null",
                             "\"\"",
                             "\"x\"",
                             " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ",
                             "[[[]]]",
                             "{\"a\":{\"b\":{}}}",
                             "[1,\"two\",true,null,{},[]]"}) {
        EXPECT_TRUE(accepts(text)) << text;
    }
}

TEST(MgmtJsonReader, RefusesWhatRfc8259DoesNotAllow) {
    for (const char* text : {
             "",              // no value
             " ",             // only whitespace
             "{",             // unterminated
             "[1,2",          // unterminated
             "[1,]",          // trailing comma
             "{\"a\":1,}",    // trailing comma
             "{,}",           // comma without members
             "[,1]",          // leading comma
             "{a:1}",         // unquoted name
             "{'a':1}",       // single quotes
             "{\"a\" 1}",     // missing colon
             "{\"a\":}",      // missing value
             "{1:2}",         // non-string name
             "01",            // leading zero
             "-01",           // leading zero
             "+1",            // plus sign
             "1.",            // no fraction digits
             ".5",            // no integer part
             "1e",            // no exponent digits
             "1e+",           // no exponent digits
             "-",             // sign alone
             "NaN",           // not a JSON number
             "Infinity",      // not a JSON number
             "0x10",          // hex
             "tru",           // truncated literal
             "True",          // wrong case
             "nul",           // truncated literal
             "truex",         // trailing junk after a literal
             "1 2",           // two values
             "{} {}",         // two values
             "[1] x",         // trailing junk
             "\"abc",         // unterminated string
             "\"a\nb\"",      // raw control character in a string
             "\"a\tb\"",      // raw tab in a string
             "\"\\x\"",       // unknown escape
             "\"\\u12\"",     // short \u escape
             "\"\\u12G4\"",   // non-hex \u escape
             "\"\\\"",        // escaped quote then end of input
             "[1]]",          // extra close
             "/* c */ 1",     // comments
             "\f1",           // form feed is not JSON whitespace
             "\xEF\xBB\xBF{}" // byte order mark
         }) {
        EXPECT_FALSE(accepts(text)) << "accepted: " << text;
    }
}

TEST(MgmtJsonReader, StringsMustBeValidUtf8) {
    EXPECT_TRUE(accepts("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"")); // é € 😀
    EXPECT_FALSE(accepts("\"\xC3\""));                                     // truncated sequence
    EXPECT_FALSE(accepts("\"\xC0\xAF\""));                                 // overlong '/'
    EXPECT_FALSE(accepts("\"\xE0\x80\xAF\""));     // overlong three-byte form
    EXPECT_FALSE(accepts("\"\xED\xA0\x80\""));     // UTF-8-encoded surrogate U+D800
    EXPECT_FALSE(accepts("\"\xF4\x90\x80\x80\"")); // above U+10FFFF
    EXPECT_FALSE(accepts("\"\xFF\""));             // never valid
    EXPECT_FALSE(accepts("\"\x80\""));             // lone continuation byte
    Parsed parsed("\"x\xC3\"");
    EXPECT_STREQ(parsed.error.message, "invalid UTF-8 in a string");
    EXPECT_EQ(parsed.error.offset, 2u);
}

TEST(MgmtJsonReader, UnicodeEscapesMustFormCodePoints) {
    EXPECT_TRUE(accepts("\"\\u00e9\\uD83D\\uDE00\""));
    EXPECT_FALSE(accepts("\"\\uD83D\""));        // lone high surrogate
    EXPECT_FALSE(accepts("\"\\uDE00\""));        // lone low surrogate
    EXPECT_FALSE(accepts("\"\\uD83D\\u0041\"")); // high surrogate then not a low one
    EXPECT_FALSE(accepts("\"\\uD83Dx\""));
}

TEST(MgmtJsonReader, DecodesEscapes) {
    Parsed parsed("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\"");
    ASSERT_TRUE(parsed.ok());
    char buffer[64];
    auto text = parsed.root().as_string(buffer);
    ASSERT_FALSE(text.is_error());
    EXPECT_EQ(text.value(), "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    EXPECT_TRUE(parsed.root().string_equals(text.value()));
    EXPECT_FALSE(parsed.root().string_equals("a\"b"));
    char small[4];
    EXPECT_EQ(parsed.root().as_string(small).error().code(), ErrorCode::out_of_range);
}

TEST(MgmtJsonReader, DuplicateMemberNamesAreRefused) {
    EXPECT_FALSE(accepts("{\"a\":1,\"a\":2}"));
    EXPECT_FALSE(accepts("{\"a\":1,\"\\u0061\":2}")); // the same name, escaped
    EXPECT_TRUE(accepts("{\"a\":{\"a\":1},\"b\":[{\"a\":2}]}"));
    Parsed parsed("{\"x\":[1,{\"y\":2}],\"y\":3,\"y\":4}");
    EXPECT_STREQ(parsed.error.message, "duplicate member name");
}

TEST(MgmtJsonReader, DepthLimit) {
    auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    EXPECT_TRUE(Parsed(nested(16)).ok());
    Parsed too_deep(nested(17));
    ASSERT_FALSE(too_deep.ok());
    EXPECT_EQ(too_deep.document.error().code(), ErrorCode::out_of_range);
    EXPECT_TRUE(Parsed(nested(40), JsonLimits{40}).ok());
    // The limit cannot be raised beyond the parser's own stack.
    EXPECT_FALSE(Parsed(nested(65), JsonLimits{1000}).ok());
}

TEST(MgmtJsonReader, TokenCapacity) {
    std::vector<JsonToken> tokens(3);
    EXPECT_FALSE(JsonDocument::parse("[1,2]", tokens).is_error());
    auto too_many = JsonDocument::parse("[1,2,3]", tokens);
    ASSERT_TRUE(too_many.is_error());
    EXPECT_EQ(too_many.error().code(), ErrorCode::out_of_memory);
}

TEST(MgmtJsonReader, NavigatesObjectsAndArrays) {
    Parsed parsed(R"({"name":"web","vcpus":2,"disks":[{"path":"a"},"b"],"flag":false,"n":null})");
    ASSERT_TRUE(parsed.ok());
    JsonValue root = parsed.root();
    EXPECT_TRUE(root.is(JsonType::object));
    EXPECT_EQ(root.size(), 5u);
    EXPECT_TRUE(root.member("name")->string_equals("web"));
    EXPECT_EQ(root.member("vcpus")->as_uint64().value(), 2u);
    JsonValue disks = *root.member("disks");
    EXPECT_EQ(disks.size(), 2u);
    EXPECT_TRUE(disks.element(0)->member("path")->string_equals("a"));
    EXPECT_TRUE(disks.element(1)->string_equals("b"));
    EXPECT_FALSE(disks.element(2).has_value());
    EXPECT_FALSE(root.member("flag")->as_bool().value());
    EXPECT_TRUE(root.member("n")->is(JsonType::null));
    EXPECT_FALSE(root.member("missing").has_value());
    EXPECT_FALSE(disks.member("path").has_value()); // not an object
    // Siblings skip whole subtrees.
    EXPECT_TRUE(disks.next_sibling().string_equals("flag"));
}

TEST(MgmtJsonReader, Integers) {
    EXPECT_EQ(Parsed("18446744073709551615").root().as_uint64().value(), UINT64_MAX);
    EXPECT_EQ(Parsed("18446744073709551616").root().as_uint64().error().code(),
              ErrorCode::out_of_range);
    EXPECT_EQ(Parsed("-1").root().as_uint64().error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(Parsed("1.0").root().as_uint64().error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(Parsed("1e3").root().as_uint64().error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(Parsed("\"1\"").root().as_uint64().error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(Parsed("-9223372036854775808").root().as_int64().value(), INT64_MIN);
    EXPECT_EQ(Parsed("9223372036854775807").root().as_int64().value(), INT64_MAX);
    EXPECT_TRUE(Parsed("9223372036854775808").root().as_int64().is_error());
    EXPECT_EQ(Parsed("-42").root().as_int64().value(), -42);
}

TEST(MgmtJsonReader, ErrorOffsets) {
    Parsed parsed("{\"a\": [1, 2,, 3]}");
    EXPECT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error.offset, 12u);
    EXPECT_STREQ(parsed.error.message, "expected a value");
}

std::string write(void (*build)(JsonWriter&), size_t size = 512) {
    std::vector<char> buffer(size);
    JsonWriter writer(buffer);
    build(writer);
    return writer.overflowed() ? "<overflow>" : std::string(writer.text());
}

TEST(MgmtJsonWriter, WritesNestedDocuments) {
    EXPECT_EQ(write([](JsonWriter& w) {
                  w.begin_object();
                  w.field("a", uint64_t(1));
                  w.key("list");
                  w.begin_array();
                  w.number(0);
                  w.number_signed(-5);
                  w.boolean(true);
                  w.null();
                  w.begin_object();
                  w.end_object();
                  w.begin_array();
                  w.end_array();
                  w.end_array();
                  w.field("s", "x");
                  w.end_object();
              }),
              R"({"a":1,"list":[0,-5,true,null,{},[]],"s":"x"})");
    EXPECT_EQ(write([](JsonWriter& w) { w.number_signed(INT64_MIN); }), "-9223372036854775808");
    EXPECT_EQ(write([](JsonWriter& w) { w.number(UINT64_MAX); }), "18446744073709551615");
}

TEST(MgmtJsonWriter, EscapesStringsAndRepairsUtf8) {
    EXPECT_EQ(write([](JsonWriter& w) { w.string("q\"b\\n\nt\tc\x01\x1f\x7f"); }),
              "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007f\"");
    EXPECT_EQ(write([](JsonWriter& w) { w.string("\xC3\xA9\xF0\x9F\x98\x80"); }),
              "\"\xC3\xA9\xF0\x9F\x98\x80\"");
    // Invalid bytes become U+FFFD, one per byte, so the output is always valid JSON.
    EXPECT_EQ(write([](JsonWriter& w) {
                  w.string("a\xFF"
                           "b\xC3");
              }),
              "\"a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\"");
}

TEST(MgmtJsonWriter, OverflowIsReportedNotTruncated) {
    EXPECT_EQ(write([](JsonWriter& w) { w.string("0123456789"); }, 8), "<overflow>");
    EXPECT_EQ(write([](JsonWriter& w) { w.string("012345"); }, 8), "\"012345\"");
}

TEST(MgmtJsonWriter, OutputParsesBackToTheSameStrings) {
    std::string tricky = "line\r\n\"quoted\" \\ tab\t bell\x07 \xE2\x82\xAC";
    std::vector<char> buffer(256);
    JsonWriter writer(buffer);
    writer.begin_object();
    writer.field("s", tricky);
    writer.end_object();
    Parsed parsed{std::string(writer.text())};
    ASSERT_TRUE(parsed.ok());
    char decoded[128];
    EXPECT_EQ(parsed.root().member("s")->as_string(decoded).value(), tricky);
}

} // namespace
