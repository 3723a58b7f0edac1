// Must compile: the control for boundaries.plugin_sdk_only (same flags, SDK header).
#include "bihuan/plugin/sdk.hpp"
