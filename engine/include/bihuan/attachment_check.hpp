// Lets an engine check the attachments a step names (docs/attachments.md). Kept apart
// from engine.hpp so that only the owner of an attachment store includes it.
#pragma once

#include <functional>
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

}  // namespace bihuan
