#include "mgmt/datastore/datastore.hpp"

#include "boot/config/config.hpp"

namespace halcyon::datastore {

std::string_view Datastore::volume_path(std::string_view path) {
    if (config::is_datastore_path(path))
        return config::datastore_path(path);
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    return path;
}

ErrorOr<void> Datastore::mount(bool read_only) {
    exfat::MountOptions options;
    options.read_only = read_only;
    return volume_.mount(options);
}

uint64_t Datastore::size_bytes() {
    const exfat::VolumeInfo& volume = volume_.info();
    return uint64_t(volume.cluster_count) * volume.cluster_size;
}

uint64_t Datastore::free_bytes() {
    const exfat::VolumeInfo& volume = volume_.info();
    return volume.free_clusters * volume.cluster_size;
}

ErrorOr<exfat::File> Datastore::open(std::string_view path, exfat::OpenMode mode) {
    return volume_.open(volume_path(path), mode, exfat::Disposition::open_existing);
}

ErrorOr<void> Datastore::make_parents(std::string_view path) {
    for (size_t slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
        const std::string_view parent = path.substr(0, slash);
        if (parent.empty())
            continue;
        exfat::EntryInfo info;
        if (volume_.stat(parent, info).is_error()) {
            TRY(volume_.create_directory(parent));
        } else if (!info.directory) {
            return Error(ErrorCode::already_exists,
                         "datastore: a file stands where a parent directory should be");
        }
    }
    return {};
}

ErrorOr<exfat::File> Datastore::create(std::string_view path, uint64_t size) {
    path = volume_path(path);
    TRY(make_parents(path));
    exfat::File file =
        TRY(volume_.open(path, exfat::OpenMode::read_write, exfat::Disposition::create_new));
    if (size != 0)
        TRY(file.set_size(size));
    TRY(file.flush());
    return file;
}

ErrorOr<void> Datastore::list(std::string_view directory, ListVisitor& visitor) {
    exfat::DirectoryReader reader = TRY(volume_.open_directory(volume_path(directory)));
    exfat::EntryInfo info;
    while (TRY(reader.next(info))) {
        if (!visitor.entry(info))
            break;
    }
    return {};
}

ErrorOr<void> Datastore::stat(std::string_view path, exfat::EntryInfo& out) {
    return volume_.stat(volume_path(path), out);
}

ErrorOr<void> Datastore::read_file(std::string_view path, std::span<uint8_t> out) {
    exfat::File file = TRY(open(path, exfat::OpenMode::read));
    if (file.size() != out.size())
        return Error(ErrorCode::invalid_argument, "datastore: the file's size changed");
    size_t done = 0;
    while (done < out.size()) {
        const size_t got = TRY(file.read(done, out.subspan(done)));
        if (got == 0)
            return Error(ErrorCode::io, "datastore: the file ended early");
        done += got;
    }
    return file.close();
}

} // namespace halcyon::datastore
