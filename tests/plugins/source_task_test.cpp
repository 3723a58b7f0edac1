// A task action whose channel is a configured data source runs the source's named query
// (the action's `query`) with the task input as parameters; the rows come back to the
// instance as the onResult event's payload {"rows": [...]}, a failure as onError.
#include "plugin_support.hpp"

namespace bihuan::testing {
namespace {

const char* kQueryFlow = R"({"id": "t.query", "version": 1, "initial": "ASK",
  "states": {
    "ASK": {"onEntry": [{"task": "src", "query": {"var": "data.q"}, "input": {"asOf": {"var": "data.asOf"}},
                         "onResult": "rows", "onError": "failed"}],
            "on": {"rows": {"roles": ["system"], "target": "GOT", "set": {"/rows": {"var": "event.payload.rows"}}},
                   "failed": {"roles": ["system"], "target": "BAD", "set": {"/error": {"var": "event.payload.error"}}}}},
    "GOT": {"type": "final", "outcome": "got"},
    "BAD": {"type": "final", "outcome": "bad"}}})";

class SourceTaskTest : public PluginEngineTest {};

TEST_F(SourceTaskTest, QueryNameMustBeAString) {
  // `query` is a plain name, not an expression: the schema refuses an object.
  auto r = engine_->deploy(json::parse(kQueryFlow), "test");
  EXPECT_FALSE(r.ok);
}

TEST_F(SourceTaskTest, RowsComeBackAsTheResultEventAndFailuresAsTheErrorEvent) {
  load(config_of({instance("src", "test.malformed", json::object())}));
  std::set<std::string> notifiers, handlers;
  configured_names(config_, registry_, notifiers, handlers);
  EXPECT_TRUE(handlers.count("src"))
      << "a data source is a valid task channel for deploy's name check";
  EXPECT_FALSE(notifiers.count("src"));

  json good = json::parse(kQueryFlow);
  good["id"] = "t.rows";
  good["states"]["ASK"]["onEntry"][0]["query"] = "active_bindings";
  deploy(good.dump());
  json broken = good;
  broken["id"] = "t.broken";
  broken["states"]["ASK"]["onEntry"][0]["query"] = "broken";
  deploy(broken.dump());

  auto a = start("t.rows", {{"asOf", "2023-04-01"}});
  auto b = start("t.broken", {{"asOf", "2023-04-01"}});
  ASSERT_TRUE(a.ok() && b.ok());
  auto box = engine_->outbox(10, 0);
  ASSERT_EQ(box.size(), 2u);
  EXPECT_EQ(box[0].body["query"], "active_bindings");
  EXPECT_EQ(box[0].body["input"], json({{"asOf", "2023-04-01"}}));

  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 2u);
  EXPECT_TRUE(engine_->outbox(10, 0).empty());
  auto v = engine_->get(a.instance->id);
  EXPECT_EQ(v->state, "GOT");
  EXPECT_EQ(v->data["rows"], json::parse(R"([{"a": 1, "name": "食品"}])"));
  v = engine_->get(b.instance->id);
  EXPECT_EQ(v->state, "BAD");
  EXPECT_HAS(v->data["error"].get<std::string>(), "returned malformed JSON");
}

TEST_F(SourceTaskTest, ATaskWithoutAQueryOnADataSourceIsADeadLetter) {
  load(config_of({instance("src", "test.malformed", json::object())}));
  deploy(task_definition("src"));
  ASSERT_TRUE(start("t.task", {{"input", {{"x", 1}}}}).ok());
  auto d = dispatcher();
  EXPECT_EQ(d->run_once(), 1u);
  auto dead = engine_->dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_HAS(dead[0].last_error, "only a task action naming a \"query\" can use it");
}

}  // namespace
}  // namespace bihuan::testing
