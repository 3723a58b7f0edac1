// Lets an engine check the attachments a step names (docs/attachments.md). Kept apart
// from engine.hpp so that only the owner of an attachment store includes it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bihuan/engine.hpp"

namespace bihuan {

// `stored(address)` answers whether a file is stored (answering true, it may mark it
// referenced). Once set, an event whose payload names, under "format":
// "bihuan-attachment", a file it does not know is refused (StepError::payload_invalid
// with the pointer, "not stored"). Called on the writer thread: keep it quick. Unset
// (the default) or empty: addresses are checked for their form only. Ignored by an
// Engine not made by Engine::open.
using AttachmentCheck = std::function<bool(const std::string& address)>;
void set_attachment_check(Engine& engine, AttachmentCheck stored);

class AttachmentStore;  // bihuan/attachments.hpp
// The open store verify() and backup() use: verify re-hashes each named file with
// store->check() (in verify's child process) and backup copies the files with
// store->copy_to(), so files a file-store plugin keeps are checked and backed up. Unset
// (the default, and always for `bihuan verify`/`bihuan backup` without a server): the
// data directory's files (AttachmentStore::check_file, copy_files). nullptr unsets.
void set_attachment_store(Engine& engine, std::shared_ptr<const AttachmentStore> store);

// Whether a stored instance names `address` (the reference index, storage format 6;
// docs/storage.md): what the orphan sweep asks (AttachmentStore::Referenced) before it
// removes a file. nullopt when the store cannot be read, or for an Engine not made by
// Engine::open. Any thread; one read transaction.
std::optional<bool> attachment_named(const Engine& engine, const std::string& address);

}  // namespace bihuan
