// Internal control flow of the step machine: a refused step throws StepFailure, which the
// unit boundary (Stepper's public methods) turns into a StepResult. Never escapes runtime/.
#pragma once

#include <string>

#include "bihuan/instance.hpp"

namespace bihuan::runtime {

struct StepFailure {
  StepError error;
  std::string message;
  json details = nullptr;
};

[[noreturn]] inline void fail(StepError e, std::string message, json details = nullptr) {
  throw StepFailure{e, std::move(message), std::move(details)};
}

}  // namespace bihuan::runtime
