// File-system steps of checkpointing, each turning every OS failure into a mart::Error that names
// the path (never a raw std::filesystem message), and refusing non-regular files before they are
// opened: a FIFO named trainer_state.json would otherwise block the loader forever.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mart::ckpt_fs {

// Throws mart::Error unless PATH (following symlinks) is a regular file; `what` names it in the
// message ("checkpoint file"). A missing file is reported as missing.
void require_regular_file(const std::string& path, const std::string& what);
// Size in bytes of a regular file (require_regular_file first).
uint64_t regular_file_size(const std::string& path, const std::string& what);
// The whole of a small regular file, opened non-blocking and checked with fstat, so a FIFO swapped
// in after a stat cannot block either. Refuses files over `max_bytes`.
std::string read_small_file(const std::string& path, const std::string& what,
                            uint64_t max_bytes = 64u << 20);

bool exists(const std::string& path);
bool is_directory(const std::string& path);
void create_directories(const std::string& path);
void rename(const std::string& from, const std::string& to);
// Removes a tree; returns an empty string, or the OS reason it could not (never throws).
std::string remove_all_noexcept(const std::string& path);
// Names of the entries of DIR (not recursive); throws naming DIR when it cannot be listed.
std::vector<std::string> list_dir(const std::string& dir);
// fsync of a directory, so renames and creations inside it survive a power loss.
void fsync_dir(const std::string& dir);

// This host's name reduced to [A-Za-z0-9.], for use inside file names.
std::string host_tag();
// Whether process `pid` is alive on this host (EPERM counts as alive).
bool pid_alive(long pid);

}  // namespace mart::ckpt_fs
