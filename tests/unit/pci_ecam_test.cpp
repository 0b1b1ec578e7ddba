// ECAM addressing over a plain buffer standing in for the mapped MCFG window.
#include "drivers/pci/ecam_config_space.hpp"
#include "drivers/pci/pci.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace halcyon::pci;

TEST(PciEcam, AddressesFunctionsByBusDeviceFunctionAndOffset) {
    // Buses 2..3 of a segment: 2 MiB.
    ASSERT_EQ(EcamConfigSpace::window_size(2, 3), 2u << 20);
    std::vector<uint8_t> window(EcamConfigSpace::window_size(2, 3), 0xFF);
    EcamConfigSpace ecam(window.data(), 2, 3);

    const uint32_t id = 0x1041'1AF4;
    const size_t function_base = (1u << 20) | (4u << 15) | (2u << 12); // 03:04.2
    std::memcpy(window.data() + function_base, &id, 4);
    EXPECT_EQ(ecam.read32({3, 4, 2}, 0), id);
    auto found = probe(ecam, {3, 4, 2});
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->device_id, 0x1041);

    ecam.write32({3, 4, 2}, 0x104, 0xCAFEF00D); // extended space (beyond 256 bytes)
    uint32_t stored;
    std::memcpy(&stored, window.data() + function_base + 0x104, 4);
    EXPECT_EQ(stored, 0xCAFEF00Du);
    EXPECT_EQ(ecam.read16({3, 4, 2}, 0x106), 0xCAFE);
}

TEST(PciEcam, OutsideTheWindowReadsAsAbsent) {
    std::vector<uint8_t> window(EcamConfigSpace::window_size(0, 0), 0);
    EcamConfigSpace ecam(window.data(), 0, 0);
    EXPECT_EQ(ecam.read32({1, 0, 0}, 0), 0xFFFF'FFFFu) << "bus past the end";
    EXPECT_EQ(ecam.read32({0, 0, 0}, 4096), 0xFFFF'FFFFu) << "offset past 4 KiB";
    ecam.write32({1, 0, 0}, 0, 0x1234); // dropped, and must not write out of bounds
    Function functions[4];
    EXPECT_EQ(enumerate(ecam, functions), 0u) << "all-zero ids are no device";
}
