// Evaluating a definition's expressions inside a step: JsonLogic with the engine's time
// host (time_add, time_diff over the definition's time zone and calendars).
#pragma once

#include "bihuan/definition.hpp"
#include "bihuan/expr.hpp"

namespace bihuan::runtime {

class Expressions {
 public:
  Expressions(const Definition& def, const Calendars* calendars)
      : def_(def), calendars_(calendars) {}

  // Evaluates `rule` over `context`; a failure throws StepFailure(expression_error) naming
  // `where` (the JSON Pointer of the expression in the definition).
  json eval(const json& rule, const json& context, const std::string& where) const;
  bool test(const json& rule, const json& context, const std::string& where) const;
  // A data expression (set values, spawn data, send payload, task input, notify to): an
  // object with one key naming an operator is evaluated; any other object or array is
  // built member by member; other values are literals.
  json build(const json& value, const json& context, const std::string& where) const;

  // A duration value (ISO text or expression yielding it) added to `from`, counting days
  // as working days when `calendar` is non-empty. nullopt if the expression yields null.
  std::optional<TimePoint> add(TimePoint from, const json& duration, const std::string& calendar,
                               const json& context, const std::string& where) const;
  // An `at` expression: ISO time text; nullopt for null.
  std::optional<TimePoint> at(const json& rule, const json& context,
                              const std::string& where) const;

  const Calendar* calendar(const std::string& id) const;
  const TimeZone& zone() const { return *def_.timezone; }

 private:
  const Definition& def_;
  const Calendars* calendars_;
};

// The host that gives JsonLogic's time_* extension operators their meaning.
std::optional<json> call_time_operator(std::string_view op, const json& args, const TimeZone& zone,
                                       const Calendars* calendars, std::string& error);

}  // namespace bihuan::runtime
