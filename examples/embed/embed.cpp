// Embedding Bihuan without HTTP: open an engine, deploy a definition, start an instance,
// send events, query. Built by the main build (examples/embed); docs/embedding.md walks
// through it and tests/api/embedding_test.cpp runs it.
//
//   bihuan-embed-example DATA_DIR
//
// prints one JSON line per step and exits 0 when every step did what it should.
#include <iostream>

#include "bihuan/engine.hpp"

namespace {

const char* kDefinition = R"({
  "id": "example.expense", "version": 1, "title": {"zh": "报销", "en": "Expense claim"},
  "initial": "submitted",
  "states": {
    "submitted": {"on": {
      "approve": {"roles": ["manager"], "transitions": [
        {"guard": {">": [{"var": "data.amount"}, 1000]}, "target": "director"},
        {"else": true, "target": "paid"}]},
      "reject": {"roles": ["manager"], "target": "rejected"}}},
    "director": {"on": {"approve": {"roles": ["director"], "target": "paid"},
                        "reject": {"roles": ["director"], "target": "rejected"}}},
    "paid": {"type": "final", "outcome": "paid"},
    "rejected": {"type": "final", "outcome": "rejected"}}})";

bool report(const char* what, const bihuan::StepResult& r) {
  bihuan::json line = {{"step", what}, {"ok", r.ok()}};
  if (r.instance) line["state"] = r.instance->state, line["version"] = r.instance->version;
  if (!r.ok()) line["error"] = bihuan::to_string(r.error), line["message"] = r.message;
  std::cout << line.dump() << "\n";
  return r.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: bihuan-embed-example DATA_DIR\n";
    return 2;
  }
  // 1. Open (or create) the data directory. Problems explain any failure.
  bihuan::Problems problems;
  bihuan::EngineOptions options;
  options.data_dir = argv[1];
  auto engine = bihuan::Engine::open(options, problems);
  if (!engine) {
    for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
    return 1;
  }
  // 2. Deploy a definition (idempotent for the same id, version and content).
  auto deployed = engine->deploy(bihuan::json::parse(kDefinition), "embedded example");
  if (!deployed.ok) {
    for (const auto& p : deployed.problems.items()) std::cerr << p.to_string() << "\n";
    return 1;
  }
  // 3. Start an instance; the call returns once the step is durably committed.
  bihuan::StartRequest start;
  start.definition = "example.expense";
  start.business_key = "claim-2023-0042";
  start.data = {{"employee", "张三"}, {"amount", 2500}};
  start.return_existing = true;  // running the example twice continues the same claim
  auto started = engine->start(start);
  if (!report("start", started)) return 1;
  std::string id = started.instance->id;

  // 4. Send events as actors with roles; the definition's role checks apply.
  bihuan::EventRequest approve;
  approve.instance_id = id;
  approve.event = "approve";
  approve.actor = bihuan::Actor{"li.si", {"manager"}};
  approve.expected_version = started.instance->version;  // optimistic concurrency
  auto by_manager = engine->send(approve);
  report("manager approves", by_manager);

  approve.actor = bihuan::Actor{"wang.wu", {"clerk"}};
  approve.expected_version.reset();
  auto refused = engine->send(approve);  // a clerk may not approve
  report("clerk approves (refused)", refused);

  approve.actor = bihuan::Actor{"zhao.liu", {"director"}};
  auto by_director = engine->send(approve);
  report("director approves", by_director);

  // 5. Query: instances of the definition that have ended, and the history chain.
  bihuan::InstanceQuery q;
  q.definition = "example.expense";
  q.status = bihuan::InstanceStatus::completed;
  auto page = engine->query(q);
  auto history = engine->history(id);
  bihuan::json summary = {{"step", "query"},
                          {"completed", page.items.size()},
                          {"outcome", engine->get(id)->outcome},
                          {"historyEntries", history.size()},
                          {"verified", engine->verify().ok()}};
  std::cout << summary.dump() << "\n";
  engine->close();
  return refused.error == bihuan::StepError::role_not_allowed ? 0 : 1;
}
