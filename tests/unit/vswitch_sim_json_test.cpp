// The vswitch-sim JSON reader: values, positions, escapes, and strict rejection of malformed
// documents with line:column.
#include "vswitch/sim/json.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::vswitch::sim;
using Kind = JsonValue::Kind;

TEST(VswitchSimJson, ParsesNestedValuesWithPositions) {
    auto r =
        parse_json("{\n  \"a\": [1, -2.5e1, true, null],\n  \"b\": {\"c\": \"x\\u00e9\\n\"}\n}");
    ASSERT_TRUE(r.ok) << r.error;
    const JsonValue& root = r.value;
    ASSERT_EQ(root.kind, Kind::object);
    const JsonValue* a = root.find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->line, 2u);
    EXPECT_EQ(a->column, 8u);
    ASSERT_EQ(a->items.size(), 4u);
    EXPECT_TRUE(a->items[0].is_integer);
    EXPECT_EQ(a->items[0].integer, 1);
    EXPECT_FALSE(a->items[1].is_integer);
    EXPECT_DOUBLE_EQ(a->items[1].number, -25.0);
    EXPECT_EQ(a->items[2].kind, Kind::boolean);
    EXPECT_EQ(a->items[3].kind, Kind::null);
    EXPECT_EQ(root.member_positions[1], (std::pair<uint32_t, uint32_t>{3, 3}));
    EXPECT_EQ(root.find("b")->find("c")->text, "x\xc3\xa9\n");
}

TEST(VswitchSimJson, SurrogatePairsBecomeUtf8) {
    auto r = parse_json("\"\\ud83d\\ude00\"");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.value.text, "\xf0\x9f\x98\x80");
    EXPECT_FALSE(parse_json("\"\\ud83d\"").ok);
    EXPECT_FALSE(parse_json("\"\\ude00\"").ok);
}

TEST(VswitchSimJson, HugeIntegersAreNotExact) {
    auto r = parse_json("[9223372036854775807, 9223372036854775808]");
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.value.items[0].is_integer);
    EXPECT_FALSE(r.value.items[1].is_integer);
}

struct BadCase {
    const char* text;
    uint32_t line;
    uint32_t column;
    const char* fragment;
};

TEST(VswitchSimJson, ErrorsNameLineAndColumn) {
    const BadCase cases[] = {
        {"{\"a\": 1,}", 1, 9, "trailing comma"},
        {"[1, 2", 1, 6, "end of input"},
        {"{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key"},
        {"{\n  \"a\": tru\n}", 2, 11, "invalid literal"},
        {"{\"a\" 1}", 1, 6, "expected ':'"},
        {"[01]", 1, 3, "leading zeros"},
        {"[1.]", 1, 4, "digits expected"},
        {"\"a\tb\"", 1, 3, "control character"},
        {"\"\\x\"", 1, 3, "invalid escape"},
        {"// comment\n{}", 1, 1, "unexpected character"},
        {"{} {}", 1, 4, "unexpected text"},
        {"", 1, 1, "end of input"},
        {"\"abc", 1, 5, "unterminated"},
    };
    for (const BadCase& c : cases) {
        auto r = parse_json(c.text);
        EXPECT_FALSE(r.ok) << c.text;
        EXPECT_EQ(r.line, c.line) << c.text << ": " << r.error;
        EXPECT_EQ(r.column, c.column) << c.text << ": " << r.error;
        EXPECT_NE(r.error.find(c.fragment), std::string::npos) << c.text << ": " << r.error;
    }
}

TEST(VswitchSimJson, DeepNestingIsRefusedNotRecursedForever) {
    std::string deep(10000, '[');
    auto r = parse_json(deep);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("nesting"), std::string::npos);
    std::string ok_depth = std::string(60, '[') + std::string(60, ']');
    EXPECT_TRUE(parse_json(ok_depth).ok);
}

} // namespace
