// Path resolution and the namespace operations: mkdir, remove, rename, stat, open, list.
#include "mgmt/datastore/exfat/volume.hpp"

#include "mgmt/datastore/exfat/check.hpp"

#include <string.h>

namespace halcyon::exfat {

using namespace layout;

namespace {

// Splits off the next '/'-separated component (empty components are skipped).
bool next_component(std::string_view& path, std::string_view& component) {
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    if (path.empty())
        return false;
    // No substr(): its out-of-range throw becomes a call to abort() in the core world.
    size_t slash = path.find('/');
    size_t length = slash == std::string_view::npos ? path.size() : slash;
    component = std::string_view(path.data(), length);
    path.remove_prefix(length);
    return true;
}

} // namespace

ErrorOr<void> Volume::resolve_parent(std::string_view path, DirectoryRef& parent, Name& leaf,
                                     bool& is_root_itself, uint32_t forbidden) {
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    parent = DirectoryRef{root_, true, {}};
    is_root_itself = false;
    std::string_view component;
    if (!next_component(path, component)) {
        is_root_itself = true;
        return {};
    }
    EntrySet set;
    for (;;) {
        std::string_view rest = path;
        std::string_view following;
        bool last = !next_component(rest, following);
        TRY(name_from_utf8(component, leaf));
        if (last)
            return {};
        uint32_t index = 0;
        if (!TRY(find_entry(parent.stream, parent.is_root, leaf, index, set)))
            return Error(ErrorCode::not_found, "exfat: a directory in the path does not exist");
        if (!set.is_directory())
            return Error(ErrorCode::invalid_argument, "exfat: a path component is not a directory");
        Stream stream = set.stream();
        if (forbidden != 0 && stream.first_cluster == forbidden)
            return Error(ErrorCode::invalid_argument, "exfat: cannot move a directory into itself");
        parent = DirectoryRef{stream, false, EntryLocation{parent.stream, index, set.total}};
        path = rest;
        component = following;
    }
}

ErrorOr<void> Volume::resolve_directory(std::string_view path, DirectoryRef& out) {
    Name leaf;
    bool is_root = false;
    TRY(resolve_parent(path, out, leaf, is_root));
    if (is_root)
        return {};
    EntrySet set;
    uint32_t index = 0;
    if (!TRY(find_entry(out.stream, out.is_root, leaf, index, set)))
        return Error(ErrorCode::not_found, "exfat: no such directory");
    if (!set.is_directory())
        return Error(ErrorCode::invalid_argument, "exfat: not a directory");
    out = DirectoryRef{set.stream(), false, EntryLocation{out.stream, index, set.total}};
    return {};
}

Volume::OpenNode* Volume::find_node(const EntryLocation& location) {
    OpenNode* nodes = nodes_.as<OpenNode>();
    for (uint32_t i = 0; i < options_.max_open_files; ++i)
        if (nodes[i].handles > 0 &&
            nodes[i].location.directory.first_cluster == location.directory.first_cluster &&
            nodes[i].location.index == location.index)
            return &nodes[i];
    return nullptr;
}

void Volume::fill_info(const EntrySet& set, EntryInfo& out) const {
    out.name_length =
        static_cast<uint32_t>(name_to_utf8(set.name.view(), {out.name, kMaxNameUtf8}));
    out.name[out.name_length] = '\0';
    const FileEntry& file = set.file();
    const StreamExtensionEntry& stream = set.stream_entry();
    out.directory = set.is_directory();
    out.attributes = file.file_attributes;
    out.size = stream.data_length;
    out.valid_size = stream.valid_data_length;
    out.first_cluster = stream.first_cluster;
    out.contiguous = (stream.general_secondary_flags & kFlagNoFatChain) != 0;
    out.created =
        unpack_time(file.create_timestamp, file.create_10ms_increment, file.create_utc_offset);
    out.modified = unpack_time(file.last_modified_timestamp, file.last_modified_10ms_increment,
                               file.last_modified_utc_offset);
    out.accessed = unpack_time(file.last_accessed_timestamp, 0, file.last_accessed_utc_offset);
}

ErrorOr<void> Volume::create_directory(std::string_view path) {
    TRY(begin_update());
    DirectoryRef parent;
    Name leaf;
    bool is_root = false;
    TRY(resolve_parent(path, parent, leaf, is_root));
    if (is_root)
        return Error(ErrorCode::already_exists, "exfat: the root directory exists");
    EntrySet set;
    uint32_t index = 0;
    if (TRY(find_entry(parent.stream, parent.is_root, leaf, index, set)))
        return Error(ErrorCode::already_exists, "exfat: the name exists already");
    // One zeroed cluster, durable with its bitmap bit before the entry that points at it.
    uint32_t cluster_size = geometry_.cluster_size();
    Stream stream;
    TRY(grow(stream, cluster_size, nullptr));
    auto placed = [&]() -> ErrorOr<void> {
        TRY(stream_zero(stream, nullptr, 0, cluster_size));
        TRY(write_back_metadata());
        TRY(device_.flush());
        build_entry_set(set, leaf, kAttributeDirectory, stream, cluster_size);
        EntryLocation location;
        TRY(place_entry_set(parent, set, location));
        return device_.flush();
    }();
    if (placed.is_error()) {
        (void)free_stream(stream); // never referenced: just give the cluster back
        return placed.release_error();
    }
    return {};
}

ErrorOr<void> Volume::remove(std::string_view path) {
    TRY(begin_update());
    DirectoryRef parent;
    Name leaf;
    bool is_root = false;
    TRY(resolve_parent(path, parent, leaf, is_root));
    if (is_root)
        return Error(ErrorCode::invalid_argument, "exfat: cannot remove the root directory");
    EntrySet set;
    uint32_t index = 0;
    if (!TRY(find_entry(parent.stream, parent.is_root, leaf, index, set)))
        return Error(ErrorCode::not_found, "exfat: no such file or directory");
    EntryLocation location{parent.stream, index, set.total};
    if (find_node(location) != nullptr)
        return Error(ErrorCode::busy, "exfat: the file is open");
    if (set.vendor_allocation)
        return Error(ErrorCode::not_supported, "exfat: entry has vendor allocations");
    Stream stream = set.stream();
    if (set.is_directory() && stream.length > 0) {
        EntrySet child;
        uint32_t child_index = 0;
        if (TRY(next_entry_set(stream, false, child_index, child)))
            return Error(ErrorCode::busy, "exfat: the directory is not empty");
    }
    // The entry goes first (flushed inside); only then may its clusters be reused.
    TRY(delete_entry_set(location));
    return free_stream(stream);
}

ErrorOr<void> Volume::rename(std::string_view from, std::string_view to) {
    TRY(begin_update());
    DirectoryRef source_parent;
    Name source_name;
    bool is_root = false;
    TRY(resolve_parent(from, source_parent, source_name, is_root));
    if (is_root)
        return Error(ErrorCode::invalid_argument, "exfat: cannot rename the root directory");
    EntrySet set;
    uint32_t index = 0;
    if (!TRY(find_entry(source_parent.stream, source_parent.is_root, source_name, index, set)))
        return Error(ErrorCode::not_found, "exfat: no such file or directory");
    EntryLocation old_location{source_parent.stream, index, set.total};
    if (set.total > set.held)
        return Error(ErrorCode::not_supported, "exfat: cannot rename an entry with vendor data");

    DirectoryRef target_parent;
    Name target_name;
    uint32_t forbidden = set.is_directory() ? set.stream().first_cluster : 0;
    TRY(resolve_parent(to, target_parent, target_name, is_root, forbidden));
    if (is_root)
        return Error(ErrorCode::already_exists, "exfat: the root directory exists");
    if (forbidden != 0 && target_parent.stream.first_cluster == forbidden)
        return Error(ErrorCode::invalid_argument, "exfat: cannot move a directory into itself");
    bool same_directory = target_parent.stream.first_cluster == source_parent.stream.first_cluster;
    EntrySet existing;
    uint32_t existing_index = 0;
    if (TRY(find_entry(target_parent.stream, target_parent.is_root, target_name, existing_index,
                       existing)) &&
        !(same_directory && existing_index == index))
        return Error(ErrorCode::already_exists, "exfat: the target name exists already");

    // An open file's newest sizes live in its node: put them on disk before copying the set.
    OpenNode* node = find_node(old_location);
    if (node != nullptr && node->entry_dirty) {
        TRY(commit_node(*node));
        TRY(read_entry_set(old_location.directory, old_location.index, set));
    }
    EntrySet renamed;
    build_entry_set(renamed, target_name, 0, Stream{}, 0);
    uint8_t secondaries = renamed.file().secondary_count;
    uint8_t name_length = renamed.stream_entry().name_length;
    uint16_t name_hash = renamed.stream_entry().name_hash;
    memcpy(renamed.raw[0], set.raw[0], kEntrySize);
    memcpy(renamed.raw[1], set.raw[1], kEntrySize);
    renamed.file().secondary_count = secondaries;
    renamed.stream_entry().name_length = name_length;
    renamed.stream_entry().name_hash = name_hash;
    seal_entry_set(renamed);

    uint32_t per_sector = geometry_.sector_size() / kEntrySize;
    EntryLocation new_location;
    if (same_directory && renamed.total <= set.total &&
        index % per_sector + set.total <= per_sector) {
        // In place, in one sector write: the rename is atomic.
        uint8_t entries[EntrySet::kMaxHeld][kEntrySize] = {};
        memcpy(entries, renamed.raw, size_t{renamed.total} * kEntrySize);
        for (uint32_t i = renamed.total; i < set.total; ++i)
            entries[i][0] = kEntryUnused;
        TRY(write_entries(source_parent.stream, index, entries, set.total));
        TRY(device_.flush());
        new_location = EntryLocation{source_parent.stream, index, renamed.total};
    } else {
        // New entry first, then the old one goes: a power cut in between leaves both names
        // (sharing the allocation), never neither.
        TRY(place_entry_set(target_parent, renamed, new_location));
        TRY(device_.flush());
        TRY(delete_entry_set(old_location));
    }
    if (node != nullptr)
        node->location = new_location;
    return {};
}

ErrorOr<void> Volume::stat(std::string_view path, EntryInfo& out) {
    DirectoryRef parent;
    Name leaf;
    bool is_root = false;
    TRY(resolve_parent(path, parent, leaf, is_root));
    if (is_root) {
        out = EntryInfo{};
        out.name[0] = '\0';
        out.directory = true;
        out.attributes = kAttributeDirectory;
        out.size = out.valid_size = root_.length;
        out.first_cluster = root_.first_cluster;
        return {};
    }
    EntrySet set;
    uint32_t index = 0;
    if (!TRY(find_entry(parent.stream, parent.is_root, leaf, index, set)))
        return Error(ErrorCode::not_found, "exfat: no such file or directory");
    // An open file's sizes may be newer in memory than on disk.
    if (OpenNode* node = find_node(EntryLocation{parent.stream, index, set.total})) {
        auto& stream = set.stream_entry();
        stream.data_length = node->stream.length;
        stream.valid_data_length = node->valid_length;
        stream.first_cluster = node->stream.first_cluster;
    }
    fill_info(set, out);
    return {};
}

ErrorOr<File> Volume::open(std::string_view path, OpenMode mode, Disposition disposition) {
    bool writable = mode == OpenMode::read_write;
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    if (writable || disposition != Disposition::open_existing)
        TRY(begin_update());
    DirectoryRef parent;
    Name leaf;
    bool is_root = false;
    TRY(resolve_parent(path, parent, leaf, is_root));
    if (is_root)
        return Error(ErrorCode::invalid_argument, "exfat: the root is a directory");
    EntrySet set;
    uint32_t index = 0;
    EntryLocation location;
    bool found = TRY(find_entry(parent.stream, parent.is_root, leaf, index, set));
    if (found) {
        if (disposition == Disposition::create_new)
            return Error(ErrorCode::already_exists, "exfat: the file exists already");
        if (set.is_directory())
            return Error(ErrorCode::invalid_argument, "exfat: is a directory");
        if (writable && (set.file().file_attributes & kAttributeReadOnly))
            return Error(ErrorCode::permission, "exfat: the file is read-only");
        if (set.vendor_allocation && writable)
            return Error(ErrorCode::not_supported, "exfat: file has vendor allocations");
        location = EntryLocation{parent.stream, index, set.total};
    } else {
        if (disposition == Disposition::open_existing)
            return Error(ErrorCode::not_found, "exfat: no such file");
        build_entry_set(set, leaf, kAttributeArchive, Stream{}, 0);
        TRY(place_entry_set(parent, set, location));
        TRY(device_.flush());
    }

    OpenNode* node = find_node(location);
    if (node == nullptr) {
        OpenNode* nodes = nodes_.as<OpenNode>();
        for (uint32_t i = 0; i < options_.max_open_files && node == nullptr; ++i)
            if (nodes[i].handles == 0)
                node = &nodes[i];
        if (node == nullptr)
            return Error(ErrorCode::busy, "exfat: too many open files");
        *node = OpenNode{};
        node->cursor.points = &node->points;
        node->location = location;
        node->stream = set.stream();
        node->valid_length = set.stream_entry().valid_data_length;
        node->attributes = set.file().file_attributes;
    }
    node->handles++;
    if (writable)
        node->writers++;
    File file(this, static_cast<uint32_t>(node - nodes_.as<OpenNode>()), writable);
    if (found && writable && disposition == Disposition::create_or_truncate)
        TRY(file.set_size(0));
    return file;
}

ErrorOr<DirectoryReader> Volume::open_directory(std::string_view path) {
    DirectoryRef directory;
    TRY(resolve_directory(path, directory));
    return DirectoryReader(this, directory.stream, directory.is_root);
}

ErrorOr<CheckReport> Volume::check() {
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    // Open files' pending sizes must be on disk for the tree to be judged as it really is.
    if (!read_only_)
        TRY(sync());
    Checker checker(*this);
    return checker.run(false);
}

ErrorOr<bool> DirectoryReader::next(EntryInfo& out) {
    EntrySet set;
    if (!TRY(volume_->next_entry_set(directory_, is_root_, index_, set)))
        return false;
    index_ += set.total;
    volume_->fill_info(set, out);
    return true;
}

} // namespace halcyon::exfat
