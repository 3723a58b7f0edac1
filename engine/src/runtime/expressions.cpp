#include "runtime/expressions.hpp"

#include "runtime/failure.hpp"

namespace bihuan::runtime {

namespace {

std::optional<TimePoint> time_arg(const json& v, const TimeZone& zone) {
  if (v.is_string()) return parse_time(v.get<std::string>(), &zone);
  if (v.is_number_integer()) return TimePoint(Millis(v.get<std::int64_t>()));
  return std::nullopt;
}

}  // namespace

std::optional<json> call_time_operator(std::string_view op, const json& args, const TimeZone& zone,
                                       const Calendars* calendars, std::string& error) {
  auto calendar_arg = [&](std::size_t i) -> const Calendar* {
    if (args.size() <= i || args[i].is_null()) return nullptr;
    if (!args[i].is_string() || !calendars || !calendars->find(args[i].get<std::string>())) {
      error = std::string(op) + ": unknown calendar " + args[i].dump();
      return nullptr;
    }
    return calendars->find(args[i].get<std::string>()).get();
  };
  if (op == "time_add") {
    if (args.size() < 2) return error = "time_add takes [time, duration, calendar?]", std::nullopt;
    auto t = time_arg(args[0], zone);
    if (!t) return error = "time_add: " + args[0].dump() + " is not an ISO 8601 time", std::nullopt;
    std::string why;
    auto d = args[1].is_string() ? parse_duration(args[1].get<std::string>(), &why) : std::nullopt;
    if (!d)
      return error = "time_add: " + args[1].dump() + " is not an ISO 8601 duration", std::nullopt;
    const Calendar* cal = calendar_arg(2);
    if (!error.empty()) return std::nullopt;
    TimePoint out = cal ? cal->add(*t, *d, true) : add_duration(*t, *d, zone);
    if (cal) calendars->note_use(*cal, *t, out);  // years without holiday data: logged once
    return json(format_time(out, zone));
  }
  if (op == "time_diff") {
    if (args.size() < 3) return error = "time_diff takes [a, b, unit, calendar?]", std::nullopt;
    auto a = time_arg(args[0], zone), b = time_arg(args[1], zone);
    if (!a || !b) return error = "time_diff: arguments must be ISO 8601 times", std::nullopt;
    std::string unit = args[2].is_string() ? args[2].get<std::string>() : "";
    double delta = static_cast<double>((*b - *a).count());
    if (unit == "days") return json(delta / 86'400'000.0);
    if (unit == "hours") return json(delta / 3'600'000.0);
    if (unit == "minutes") return json(delta / 60'000.0);
    if (unit == "seconds") return json(delta / 1000.0);
    if (unit == "working_days") {
      const Calendar* cal = calendar_arg(3);
      if (!cal)
        return error = error.empty() ? "time_diff: working_days needs a calendar" : error,
               std::nullopt;
      calendars->note_use(*cal, *a, *b);
      return json(cal->working_days_between(*a, *b));
    }
    return error = "time_diff: unit must be days, hours, minutes, seconds or working_days",
           std::nullopt;
  }
  if (op == "time_before") {
    if (args.size() < 2) return error = "time_before takes [a, b]", std::nullopt;
    auto a = time_arg(args[0], zone), b = time_arg(args[1], zone);
    if (!a || !b) return error = "time_before: arguments must be ISO 8601 times", std::nullopt;
    return json(*a < *b);
  }
  error = "unknown time operator " + std::string(op);
  return std::nullopt;
}

json Expressions::eval(const json& rule, const json& context, const std::string& where) const {
  expr::Host host{[this](std::string_view op, const json& args, std::string& error) {
    return call_time_operator(op, args, *def_.timezone, calendars_, error);
  }};
  auto r = expr::evaluate(rule, context, {}, &host);
  if (!r.ok())
    fail(StepError::expression_error, "expression at " + where + " failed: " + r.error->message,
         {{"pointer", where + r.error->pointer}});
  return std::move(*r.value);
}

json Expressions::build(const json& value, const json& context, const std::string& where) const {
  if (value.is_object()) {
    if (value.size() == 1 && expr::is_operator(value.begin().key()))
      return eval(value, context, where);
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it)
      out[it.key()] = build(it.value(), context, where + "/" + pointer_escape(it.key()));
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (std::size_t i = 0; i < value.size(); ++i)
      out.push_back(build(value[i], context, where + "/" + std::to_string(i)));
    return out;
  }
  return value;
}

bool Expressions::test(const json& rule, const json& context, const std::string& where) const {
  return expr::truthy(eval(rule, context, where));
}

const Calendar* Expressions::calendar(const std::string& id) const {
  if (!calendars_) return nullptr;
  return calendars_->find(id).get();
}

std::optional<TimePoint> Expressions::add(TimePoint from, const json& duration,
                                          const std::string& cal_id, const json& context,
                                          const std::string& where) const {
  json value = duration.is_string() ? duration : eval(duration, context, where);
  if (value.is_null()) return std::nullopt;
  std::string why;
  auto d = value.is_string() ? parse_duration(value.get<std::string>(), &why) : std::nullopt;
  if (!d)
    fail(StepError::expression_error,
         "at " + where + ": " + value.dump() + " is not an ISO 8601 duration");
  if (!cal_id.empty()) {
    const Calendar* cal = calendar(cal_id);
    if (!cal)
      fail(StepError::expression_error,
           "at " + where + ": calendar \"" + cal_id + "\" is not loaded");
    TimePoint out = cal->add(from, *d, true);
    calendars_->note_use(*cal, from, out);  // years without holiday data: logged once
    return out;
  }
  return add_duration(from, *d, *def_.timezone);
}

std::optional<TimePoint> Expressions::at(const json& rule, const json& context,
                                         const std::string& where) const {
  json value = rule.is_string() ? rule : eval(rule, context, where);
  if (value.is_null()) return std::nullopt;
  auto t =
      value.is_string() ? parse_time(value.get<std::string>(), def_.timezone.get()) : std::nullopt;
  if (!t)
    fail(StepError::expression_error,
         "at " + where + ": " + value.dump() + " is not an ISO 8601 time");
  return t;
}

}  // namespace bihuan::runtime
