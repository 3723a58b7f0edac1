// attachment_files_of (bihuan/plugin_host.hpp): an AttachmentStore's files kept by a
// file-store plugin object. Each call is one plugin call; MISSING is "not stored", RETRY
// and FAIL are errors (the plugin's sentence).
#include <charconv>

#include "bihuan/attachments.hpp"
#include "plugins/dll.hpp"

namespace bihuan {

namespace {

class PluginStoredFiles final : public AttachmentFiles {
 public:
  explicit PluginStoredFiles(std::shared_ptr<PluginObject> object) : object_(std::move(object)) {}

  std::string name() const override { return object_->name(); }
  std::string plugin() const override { return object_->info().name; }

  bool put(const std::string& address, const std::string& path, std::uint64_t size,
           const std::string& content_type, std::string* error) const override {
    auto r = object_->file_put(address, path, size, content_type);
    if (!r.ok() && error) *error = r.body;
    return r.ok();
  }

  Found get(const std::string& address, std::string& out, std::string* error) const override {
    auto r = object_->file_get(address);
    if (r.ok()) out = std::move(r.body);
    return found(r, error);
  }

  Found size(const std::string& address, std::uint64_t& out, std::string* error) const override {
    auto r = object_->file_stat(address);
    if (r.ok()) {  // the size in decimal digits, nothing else: a plugin's answer is input
      const char* end = r.body.data() + r.body.size();
      auto [at, ec] = std::from_chars(r.body.data(), end, out);
      if (ec != std::errc() || at != end || r.body.empty()) {
        if (error)
          *error = "file store \"" + object_->name() + "\" answered stat of " + address +
                   " with \"" + r.body.substr(0, 40) + "\", not a size in bytes";
        return Found::error;
      }
    }
    return found(r, error);
  }

  bool remove(const std::string& address, std::string* error) const override {
    auto r = object_->file_remove(address);
    return found(r, error) != Found::error;
  }

 private:
  static Found found(const PluginResult& r, std::string* error) {
    if (r.ok()) return Found::yes;
    if (r.missing()) return Found::no;
    if (error) *error = r.body;
    return Found::error;
  }

  std::shared_ptr<PluginObject> object_;
};

}  // namespace

std::shared_ptr<AttachmentFiles> attachment_files_of(std::shared_ptr<PluginObject> object) {
  if (!object || object->kind() != PluginKind::file_store) return nullptr;
  return std::make_shared<PluginStoredFiles>(std::move(object));
}

}  // namespace bihuan
