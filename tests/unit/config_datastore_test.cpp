// halcyon.cfg's `datastore` key and "ds:" file names (docs/boot-config.md, docs/datastore.md):
// auto (default) | none | bb:dd.f[/PORT]; kernel, initrd and disk may name datastore files,
// which the loaders do not bring (boot/common/boot_files.hpp).
#include "boot/common/boot_files.hpp"
#include "boot/config/config.hpp"
#include "tests/unit/config_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace halcyon::config;
using namespace halcyon::config::testing;

namespace {

TEST(ConfigDatastore, DefaultsToAuto) {
    const Parsed parsed = run("");
    ASSERT_TRUE(parsed.ok);
    EXPECT_EQ(parsed.config->datastore.mode, DatastoreMode::automatic);
}

TEST(ConfigDatastore, NoneAutoAndAddresses) {
    EXPECT_EQ(expect_ok("datastore = none\n").config->datastore.mode, DatastoreMode::none);
    EXPECT_EQ(expect_ok("datastore = auto\n").config->datastore.mode, DatastoreMode::automatic);

    const Parsed nvme = expect_ok("datastore = 0a:1F.7\n");
    EXPECT_EQ(nvme.config->datastore.mode, DatastoreMode::device);
    EXPECT_EQ(nvme.config->datastore.bus, 0x0A);
    EXPECT_EQ(nvme.config->datastore.device, 0x1F);
    EXPECT_EQ(nvme.config->datastore.function, 7);
    EXPECT_EQ(nvme.config->datastore.port, kNoDatastorePort);

    const Parsed ahci = expect_ok("datastore = 00:1f.2/3\n");
    EXPECT_EQ(ahci.config->datastore.device, 0x1F);
    EXPECT_EQ(ahci.config->datastore.function, 2);
    EXPECT_EQ(ahci.config->datastore.port, 3u);
}

TEST(ConfigDatastore, RejectsMalformedValues) {
    const char* expected = "datastore must be auto, none or a disk's PCI address bb:dd.f";
    expect_error("datastore = yes\n", 1, expected);
    expect_error("datastore = 00:20.0\n", 1, expected); // device 0x20 > 0x1f
    expect_error("datastore = 00:03.0/32\n", 1, expected);
    expect_error("datastore = 00:03.0/\n", 1, expected);
    expect_error("datastore = 0:3.0\n", 1, expected);
    expect_error("datastore = auto\ndatastore = none\n", 2, "'datastore' is already set on line 1");
    expect_error("[vm a]\nkernel = k\ndatastore = auto\n", 3, "datastore");
}

TEST(ConfigDatastore, DatastorePaths) {
    EXPECT_TRUE(is_datastore_path("ds:/vms/a.vhdx"));
    EXPECT_FALSE(is_datastore_path("vms/ds:a.vhdx"));
    EXPECT_EQ(datastore_path("ds:/vms/a.vhdx"), "vms/a.vhdx");
    EXPECT_EQ(datastore_path("ds:vms/a.vhdx"), "vms/a.vhdx");
    EXPECT_EQ(datastore_path("ds://x"), "x");

    const Parsed parsed = expect_ok("[vm a]\nkernel = ds:/boot/vmlinuz\ninitrd = ds:boot/initrd\n"
                                    "disk = ds:/vms/a/disk.vhdx\ndisk = local.vhdx ro\n");
    EXPECT_STREQ(parsed.config->vms[0].kernel, "ds:/boot/vmlinuz");
    EXPECT_STREQ(parsed.config->vms[0].disks[0].path, "ds:/vms/a/disk.vhdx");
    expect_error("[vm a]\nkernel = ds:/\n", 2, "'kernel' names no file after 'ds:'");
    expect_error("[vm a]\nkernel = k\ndisk = ds:/vms/../x.vhdx\n", 3, "must not contain '..'");
}

TEST(ConfigDatastore, SharedDatastoreDiskMustBeReadOnlyWhateverTheSpelling) {
    expect_error("[vm a]\nkernel = k\ndisk = ds:/vms/x.vhdx\n"
                 "[vm b]\nkernel = k\ndisk = ds:vms/x.vhdx\n",
                 6, "is also used by [vm a]");
    expect_ok("[vm a]\nkernel = k\ndisk = ds:/vms/x.vhdx ro\n"
              "[vm b]\nkernel = k\ndisk = ds:vms/x.vhdx ro\n");
}

TEST(ConfigDatastore, LoadersSkipDatastoreFiles) {
    const Parsed parsed =
        expect_ok("[vm a]\nkernel = ds:/boot/vmlinuz\ninitrd = initrd.img\n"
                  "disk = ds:/vms/a.vhdx\ndisk = b.vhdx\n[vm b]\nkernel = k2\ninitrd = ds:/i\n");
    std::vector<std::string> visited;
    halcyon::loader::for_each_vm_file(*parsed.config,
                                      [&](const char* path) { visited.emplace_back(path); });
    EXPECT_EQ(visited, (std::vector<std::string>{"initrd.img", "b.vhdx", "k2"}));
}

} // namespace
