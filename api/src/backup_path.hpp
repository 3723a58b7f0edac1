// Where POST /v1/backup may write: a directory inside the configured backup root, never
// elsewhere on the host (docs/operations.md, "Backup and verify").
//
// `requested` (the body's "dir") is a path relative to the root, or an absolute path that
// lies inside it. Refused (400): an empty path, a ".." component anywhere, an absolute
// path outside the root, the root itself, and a component below the root that is a
// symbolic link or not a directory (checked component by component with
// openat(O_NOFOLLOW), so a link cannot lead the copy out of the root). The root is
// created (mode 0700) when missing; it may itself be a symbolic link (the operator chose
// it). Missing directories below it are created with mode 0700, so the copy is never
// readable by others while it is written. The final directory must be new or empty
// (otherwise 409). Nothing throws.
#pragma once

#include <string>

namespace bihuan::api {

struct BackupDir {
  std::string path;     // absolute, normalized: where to write ("" when refused)
  unsigned status = 0;  // 0 = ok; else 400 (a path that is not allowed), 409 (not empty) or 500
  std::string why;      // the sentence for the problem's detail
};

// The backup root when the configuration names none: "<data_dir>-backups" beside the data
// directory (absolute).
std::string default_backup_root(const std::string& data_dir);

// Checks `requested` against `root` and creates the directories it names (see above).
BackupDir prepare_backup_dir(const std::string& root, const std::string& requested);

}  // namespace bihuan::api
