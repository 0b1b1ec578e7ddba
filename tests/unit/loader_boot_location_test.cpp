// Finding the loader's directory from its device path: ordinary and split file-path nodes,
// other node types in between, forward slashes, and malformed or hostile paths.
#include "boot/uefi/boot_location.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using halcyon::ErrorCode;
using halcyon::loader::loader_directory;
namespace efi = halcyon::efi;

namespace {

class PathBuilder {
public:
    PathBuilder& node(uint8_t type, uint8_t subtype, const std::vector<uint8_t>& payload) {
        size_t length = 4 + payload.size();
        bytes_.push_back(type);
        bytes_.push_back(subtype);
        bytes_.push_back(static_cast<uint8_t>(length));
        bytes_.push_back(static_cast<uint8_t>(length >> 8));
        bytes_.insert(bytes_.end(), payload.begin(), payload.end());
        return *this;
    }
    PathBuilder& file(const std::u16string& path) {
        std::vector<uint8_t> payload;
        for (char16_t c : path) {
            payload.push_back(static_cast<uint8_t>(c));
            payload.push_back(static_cast<uint8_t>(c >> 8));
        }
        payload.push_back(0);
        payload.push_back(0);
        return node(efi::kDevicePathTypeMedia, efi::kDevicePathSubtypeFilePath, payload);
    }
    std::vector<uint8_t> end() {
        node(efi::kDevicePathTypeEnd, 0xFF, {});
        return bytes_;
    }

private:
    std::vector<uint8_t> bytes_;
};

std::string directory_of(const std::vector<uint8_t>& path) {
    char out[128];
    auto result = loader_directory(reinterpret_cast<const efi::DevicePath*>(path.data()), out,
                                   sizeof(out), path.size());
    if (result.is_error())
        return std::string("error: ") + result.error().message();
    return out;
}

} // namespace

TEST(LoaderBootLocation, StripsTheFileName) {
    EXPECT_EQ(directory_of(PathBuilder().file(u"\\EFI\\BOOT\\BOOTX64.EFI").end()), "\\EFI\\BOOT\\");
    EXPECT_EQ(directory_of(PathBuilder().file(u"\\BOOTX64.EFI").end()), "\\");
    EXPECT_EQ(directory_of(PathBuilder().file(u"/efi/halcyon/loader.efi").end()),
              "\\efi\\halcyon\\");
}

TEST(LoaderBootLocation, JoinsSplitNodesAndSkipsOthers) {
    auto path = PathBuilder()
                    .node(0x04, 0x01, std::vector<uint8_t>(38, 0xAA)) // a hard-drive node
                    .file(u"\\EFI")
                    .file(u"BOOT")
                    .file(u"BOOTX64.EFI")
                    .end();
    EXPECT_EQ(directory_of(path), "\\EFI\\BOOT\\");
}

TEST(LoaderBootLocation, FallsBackToTheRoot) {
    EXPECT_EQ(directory_of(PathBuilder().end()), "\\");
    EXPECT_EQ(directory_of(PathBuilder().file(u"BOOTX64.EFI").end()), "\\");
}

TEST(LoaderBootLocation, RejectsMalformedPaths) {
    auto short_node = PathBuilder().file(u"\\EFI\\BOOT\\X.EFI").end();
    short_node[2] = 2; // node length below the header size
    EXPECT_EQ(directory_of(short_node), "error: malformed device path for the loader image");

    auto long_node = PathBuilder().file(u"\\EFI\\BOOT\\X.EFI").end();
    long_node[3] = 0x10; // node claims 4 KiB, past the end of the buffer
    EXPECT_EQ(directory_of(long_node), "error: malformed device path for the loader image");

    EXPECT_EQ(directory_of(PathBuilder().file(u"\\EFI\\B\u00d6\\X.EFI").end()),
              "error: the loader's path is not ASCII");
    EXPECT_EQ(directory_of(PathBuilder().file(u"EFI\\BOOT\\X.EFI").end()),
              "error: the loader's path is not absolute");
    EXPECT_EQ(directory_of(PathBuilder().file(std::u16string(200, u'a') + u"\\x").end()),
              "error: the loader's path is too long");

    // No end node at all: the walk stops at the buffer's end instead of reading past it.
    auto unterminated = PathBuilder().file(u"\\EFI\\BOOT\\X.EFI").end();
    unterminated.resize(unterminated.size() - 4);
    EXPECT_EQ(directory_of(unterminated), "\\EFI\\BOOT\\");
}
