// Must NOT compile: a plugin sees the SDK (bihuan/plugin/) only, not the engine.
// Compiled by the test boundaries.plugin_sdk_only with the SDK's include path.
#include "bihuan/engine.hpp"
