// Keys a step may not exceed. LMDB stores keys of at most 511 bytes; a longer one used
// to fail the commit, and so every step of its group commit, with a storage error. Now
// the one step is refused with a clear error and the others of its batch commit.
#include <future>
#include <map>
#include <random>

#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {

const char* kLimitsParent = R"({
  "id": "t.parent", "version": 1, "initial": "OPEN",
  "states": {
    "OPEN": {"deadline": {"after": "P7D"}, "on": {
      "spawn": {"roles": ["USER"], "actions": [{"spawn": "t.child",
                "businessKey": {"var": "event.payload.key"}, "onDone": "childDone"}]},
      "childDone": {"roles": ["system"]},
      "close": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "closed"}
  }
})";

const char* kLimitsChild = R"({
  "id": "t.child", "version": 1, "initial": "WORK",
  "states": {
    "WORK": {"deadline": {"after": "P7D"}, "on": {"finish": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

bool mentions(const StepResult& r, const std::string& part) {
  return r.message.find(part) != std::string::npos;
}

}  // namespace

TEST_F(EngineTest, OverlongKeysAreRefusedAloneNotWithTheirBatch) {
  deploy(kLimitsParent);
  deploy(kLimitsChild);
  auto parent = start("t.parent").instance->id;
  const std::string longest(kMaxKeyBytes, 'k'), over(kMaxKeyBytes + 1, 'k'), huge(600, 'k');

  // One batch: overlong keys in starts and events next to sound requests.
  std::vector<std::promise<StepResult>> answers(6);
  {
    CommitGroup group(*engine_);
    auto starting = [&](std::string bkey, std::string idem, int k) {
      StartRequest r;
      r.definition = "t.child";
      r.business_key = std::move(bkey);
      r.idempotency_key = std::move(idem);
      engine_->start_async(r,
                           [&answers, k](StepResult res) { answers[k].set_value(std::move(res)); });
    };
    starting(huge, "", 0);
    starting("", huge, 1);
    starting(longest, longest, 2);  // at the limit: accepted
    EventRequest e;
    e.instance_id = parent;
    e.event = "close";
    e.actor = {"u1", {"USER"}};
    e.idempotency_key = over;
    engine_->send_async(e, [&answers](StepResult res) { answers[3].set_value(std::move(res)); });
    EventRequest by_key;
    by_key.business_key = huge;
    by_key.event = "finish";
    by_key.actor = {"u1", {"USER"}};
    engine_->send_async(by_key,
                        [&answers](StepResult res) { answers[4].set_value(std::move(res)); });
    starting("", "", 5);
  }
  std::vector<StepResult> got;
  for (auto& a : answers) got.push_back(a.get_future().get());

  EXPECT_EQ(got[0].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(
      got[0],
      "the business key of a new t.child instance is 600 bytes long; at most 256 are allowed"))
      << got[0].message;
  EXPECT_EQ(got[0].details.value("limit", 0), 256);
  EXPECT_EQ(got[1].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(got[1], "the idempotency key is 600 bytes long")) << got[1].message;
  ASSERT_TRUE(got[2].ok()) << got[2].message;
  EXPECT_EQ(got[2].instance->business_key, longest);
  EXPECT_EQ(got[3].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(got[3], "the idempotency key is 257 bytes long")) << got[3].message;
  EXPECT_EQ(got[4].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(got[4], "the business key is 600 bytes long")) << got[4].message;
  EXPECT_TRUE(got[5].ok()) << got[5].message;

  // Nothing of the refused steps was applied; the accepted ones are there.
  EXPECT_EQ(engine_->get(parent)->state, "OPEN");
  EXPECT_EQ(engine_->get_by_business_key(longest)->id, got[2].instance->id);
  InstanceQuery q;
  q.definition = "t.child";
  EXPECT_EQ(engine_->query(q).items.size(), 2u);
  InstanceQuery by_prefix;  // reads with an overlong key find nothing, and fail nothing
  by_prefix.business_key_prefix = huge;
  EXPECT_TRUE(engine_->query(by_prefix).items.empty());
  EXPECT_FALSE(engine_->get_by_business_key(huge));
  EXPECT_FALSE(engine_->damage_by_business_key(huge));

  // A child's business key computed by the step: that step is refused, the parent stays.
  auto spawned = send(parent, "spawn", {{"key", huge}});
  EXPECT_EQ(spawned.error, StepError::invalid_request);
  EXPECT_TRUE(mentions(spawned, "the business key of a new t.child instance is 600 bytes long"))
      << spawned.message;
  EXPECT_EQ(engine_->get(parent)->version, 1u);
  auto fine = send(parent, "spawn", {{"key", "child-1"}});
  ASSERT_TRUE(fine.ok()) << fine.message;
  EXPECT_TRUE(engine_->get_by_business_key("child-1"));
  EXPECT_TRUE(engine_->verify().ok());
}

// Data nested deeper than the record decoder reads back (512 levels) used to be stored,
// acknowledged, and then unreadable: every later read and step answered record-damaged.
// Now data and payloads nest at most kMaxDataDepth levels; a step going deeper is refused.
TEST_F(EngineTest, DataAndPayloadsNestedTooDeepAreRefusedAndTheInstanceStaysReadable) {
  deploy(R"({"id": "t.wrap", "version": 1, "initial": "OPEN", "states": {
    "OPEN": {"deadline": {"after": "P7D"}, "on": {
      "wrap": {"roles": ["USER"], "set": {"/x": [{"var": "data.x"}]}},
      "note": {"roles": ["USER"], "set": {"/last": {"var": "event.payload"}}},
      "close": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "closed"}}})");
  auto nest = [](std::size_t levels) {  // an object `levels` deep, as load_json counts
    json v = json::object();
    for (std::size_t i = 1; i < levels; ++i) v = json{{"x", std::move(v)}};
    return v;
  };
  EXPECT_FALSE(json_defect(nest(kMaxDataDepth), kMaxDataDepth));
  EXPECT_EQ(json_defect(nest(kMaxDataDepth + 1), kMaxDataDepth),
            "is nested more than 256 levels deep");

  auto too_deep = start("t.wrap", nest(600));
  EXPECT_EQ(too_deep.error, StepError::data_invalid);
  EXPECT_TRUE(
      mentions(too_deep, "the data of a new t.wrap instance is nested more than 256 levels deep"))
      << too_deep.message;
  auto at_limit = start("t.wrap", nest(kMaxDataDepth));
  ASSERT_TRUE(at_limit.ok()) << at_limit.message;
  EXPECT_TRUE(engine_->get(at_limit.instance->id));

  auto s = start("t.wrap", {{"x", json::array()}});  // 2 levels deep
  ASSERT_TRUE(s.ok());
  const std::string id = s.instance->id;
  auto payload = send(id, "note", nest(300));
  EXPECT_EQ(payload.error, StepError::payload_invalid);
  EXPECT_TRUE(mentions(payload, "the payload of \"note\" is nested more than 256 levels deep"))
      << payload.message;
  ASSERT_TRUE(send(id, "note", nest(kMaxDataDepth - 1)).ok());  // under /last: 256 levels
  EXPECT_EQ(send(id, "note", nest(kMaxDataDepth)).error, StepError::data_invalid);

  // One level more per event, until the data would be 257 levels deep.
  std::size_t wrapped = 0;
  StepResult r;
  while ((r = send(id, "wrap")).ok() && wrapped < 1000) ++wrapped;
  EXPECT_EQ(wrapped, kMaxDataDepth - 2);
  EXPECT_EQ(r.error, StepError::data_invalid);
  EXPECT_TRUE(mentions(r,
                       "\"set\" of /x (/states/OPEN/on/wrap/set): the value is nested more than "
                       "255 levels deep (data may nest 256 levels)"))
      << r.message;
  auto now = engine_->get(id);
  ASSERT_TRUE(now) << engine_->damage(id).value_or("");
  EXPECT_EQ(now->version, 2 + wrapped);
  EXPECT_EQ(engine_->history(id).size(), now->version);

  // A child whose data is as deep as allowed still reports its end: the engine's own
  // event carries that data one level deeper, and is not held to the request limit.
  deploy(kLimitsChild);
  deploy(R"({"id": "t.deep-parent", "version": 1, "initial": "OPEN", "states": {
    "OPEN": {"deadline": {"after": "P7D"}, "on": {
      "spawn": {"roles": ["USER"], "actions": [{"spawn": "t.child", "data": {"x": {"var": "event.payload.d"}, "k": 1},
                                                "onDone": "childDone"}]},
      "childDone": {"roles": ["system"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "closed"}}})");
  auto parent = start("t.deep-parent").instance->id;
  ASSERT_TRUE(
      send(parent, "spawn", {{"d", nest(kMaxDataDepth - 1)}}).ok());  // child data: 256 levels
  InstanceQuery children;
  children.definition = "t.child";
  auto kids = engine_->query(children);
  ASSERT_EQ(kids.items.size(), 1u);
  ASSERT_TRUE(send(kids.items[0].id, "finish").ok());
  EXPECT_EQ(engine_->get(parent)->state, "DONE");
  EXPECT_TRUE(engine_->verify().ok());
}

// Every step rewrites its instance's whole record, so data that grows step by step (a
// note appended per event) used to be stored at any size, each step slower than the last.
// A step that would store a record over kMaxRecordBytes is refused, whatever makes it
// grow: a start, an event, a timer, a child spawned with the data. Nothing of it is applied.
TEST_F(EngineTest, AStepThatWouldStoreARecordOverTheLimitIsRefusedAndChangesNothing) {
  deploy(R"({"id": "t.grow", "version": 1, "initial": "OPEN", "states": {
    "OPEN": {
      "deadline": {"after": "P30D"},
      "timers": [{"id": "tick", "every": "PT1H", "event": "tick"}],
      "on": {
        "note": {"roles": ["USER"], "set": {"/notes/-": {"var": "event.payload.text"}}},
        "tick": {"roles": ["system"], "set": {"/notes/-": {"var": "data.chunk"}}},
        "spawn": {"roles": ["USER"], "actions": [{"spawn": "t.child", "data": {"notes": {"var": "data.notes"}, "again": {"var": "data.notes"}}}]},
        "close": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "closed"}}})");
  deploy(kLimitsChild);
  const std::string chunk(100 * 1024, 'n');  // 100 KiB per note

  auto whole = start("t.grow", {{"notes", json::array({std::string(kMaxRecordBytes, 'x')})}});
  EXPECT_EQ(whole.error, StepError::data_invalid);
  EXPECT_TRUE(mentions(whole, "bytes, nearly all of it its data; at most 1048576 are allowed"))
      << whole.message;
  EXPECT_EQ(engine_->query({}).items.size(), 0u) << "nothing of the refused start is stored";

  auto s = start("t.grow", {{"notes", json::array()}, {"chunk", std::string(200 * 1024, 't')}});
  ASSERT_TRUE(s.ok()) << s.message;
  const std::string id = s.instance->id;
  // The hourly timer appends the 200 KiB chunk.
  engine_->advance_to(clock_->now() + std::chrono::hours(2));
  ASSERT_EQ(engine_->get(id)->data["notes"].size(), 2u);
  std::size_t notes = 2;
  StepResult r;
  while ((r = send(id, "note", {{"text", chunk}})).ok() && notes < 100) ++notes;
  EXPECT_EQ(notes, 2u + 4u)
      << "the chunk, 2 x 200 KiB and 4 x 100 KiB fit in 1 MiB; a fifth note does not";
  EXPECT_EQ(r.error, StepError::data_invalid);
  EXPECT_TRUE(mentions(r, "instance " + id + " would be stored in ")) << r.message;
  ASSERT_TRUE(r.instance) << "a refusal reports the instance as it is";
  EXPECT_EQ(r.instance->version, 1u + 2u + 4u);

  // The next timer firing would grow it too: refused, and its refusal is in the history.
  engine_->advance_to(clock_->now() + std::chrono::hours(1));
  auto after = engine_->get(id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->data["notes"].size(), notes);
  auto last = engine_->history(id).back();
  EXPECT_EQ(last.kind, "timer");
  EXPECT_EQ(last.payload.value("refused", ""), "data-invalid") << last.payload.dump();
  EXPECT_EQ(after->version, 1u + 2u + 4u + 1u);

  // A child spawned with its notes twice over is refused with the step that spawns it.
  auto spawned = send(id, "spawn");
  EXPECT_EQ(spawned.error, StepError::data_invalid);
  InstanceQuery children;
  children.definition = "t.child";
  EXPECT_TRUE(engine_->query(children).items.empty());
  ASSERT_TRUE(send(id, "close").ok()) << "the instance goes on";
  EXPECT_TRUE(engine_->verify().ok());
}

// A history entry holds the event's payload and the values it sets. Through the library
// a payload of any size used to be appended to the history; now an entry is at most
// kMaxEntryBytes, and a payload that would pass it is refused like an invalid one.
TEST_F(EngineTest, AnEventWhoseHistoryEntryWouldPassTheLimitIsRefusedAndChangesNothing) {
  deploy(R"({"id": "t.note", "version": 1, "initial": "OPEN", "states": {
    "OPEN": {"deadline": {"after": "P30D"}, "on": {
      "note": {"roles": ["USER"], "set": {"/note": {"var": "event.payload.text"}}},
      "ping": {"roles": ["USER"]},
      "close": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "closed"}}})");
  auto s = start("t.note", json::object());
  ASSERT_TRUE(s.ok()) << s.message;
  const std::string id = s.instance->id;

  // 900 KiB stored in data: the entry holds it twice (payload and change), under 2 MiB.
  auto kept = send(id, "note", {{"text", std::string(900 * 1024, 'a')}});
  ASSERT_TRUE(kept.ok()) << kept.message;
  EXPECT_EQ(engine_->history(id).back().payload["text"].get<std::string>().size(), 900u * 1024u);

  // 3 MiB of payload that sets nothing: the record would fit, the entry would not.
  auto big = send(id, "ping", {{"text", std::string(3 << 20, 'b')}});
  EXPECT_EQ(big.error, StepError::payload_invalid);
  EXPECT_TRUE(mentions(big, "the history entry of this step would be ")) << big.message;
  EXPECT_TRUE(mentions(big, "at most " + std::to_string(kMaxEntryBytes) + " are allowed"))
      << big.message;
  auto after = engine_->get(id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->version, kept.instance->version) << "the refused event changed nothing";
  EXPECT_EQ(engine_->history(id).size(), 2u);
  ASSERT_TRUE(send(id, "ping", {{"text", "small"}}).ok()) << "the instance goes on";
  EXPECT_TRUE(engine_->verify().ok());
}

// Text that is not UTF-8 cannot be served as JSON. An event with such a payload and an
// idempotency key used to terminate the engine (nlohmann's dump threw on the writer
// thread); data, keys, actors and reasons with it were stored and broke later answers.
// Now each such request is refused alone, naming what is wrong.
TEST_F(EngineTest, TextThatIsNotUtf8IsRefusedAloneAndNothingCrashes) {
  deploy(kLimitsParent);
  deploy(kLimitsChild);
  const std::string bad =
      "a\xff\xfe"
      "b";
  auto parent = start("t.parent").instance->id;
  std::vector<std::promise<StepResult>> answers(5);
  {
    CommitGroup group(*engine_);
    auto sending = [&](EventRequest e, int k) {
      engine_->send_async(e,
                          [&answers, k](StepResult res) { answers[k].set_value(std::move(res)); });
    };
    EventRequest e;
    e.instance_id = parent;
    e.event = "spawn";
    e.actor = {"u1", {"USER"}};
    e.idempotency_key = "k1";
    e.payload = {{"key", bad}};
    sending(e, 0);
    EventRequest named = e;
    named.payload = json::object();
    named.event = "spawn" + bad;
    sending(named, 1);
    EventRequest actor = e;
    actor.payload = json::object();
    actor.actor = {"u1" + bad, {"USER"}};
    sending(actor, 2);
    StartRequest s;
    s.definition = "t.child";
    s.data = {{"list", {1, {{"t", bad}}}}};
    engine_->start_async(s, [&answers](StepResult res) { answers[3].set_value(std::move(res)); });
    EventRequest fine = e;
    fine.payload = {{"key", "child-1"}};
    fine.idempotency_key = "k2";
    sending(fine, 4);
  }
  std::vector<StepResult> got;
  for (auto& a : answers) got.push_back(a.get_future().get());
  EXPECT_EQ(got[0].error, StepError::payload_invalid);
  EXPECT_TRUE(mentions(got[0], "the payload of \"spawn\" has a string that is not UTF-8 at /key"))
      << got[0].message;
  EXPECT_EQ(got[1].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(got[1], "the event name is not valid UTF-8")) << got[1].message;
  EXPECT_EQ(got[2].error, StepError::invalid_request);
  EXPECT_TRUE(mentions(got[2], "the actor id is not valid UTF-8")) << got[2].message;
  EXPECT_EQ(got[3].error, StepError::data_invalid);
  EXPECT_TRUE(mentions(
      got[3], "the data of a new t.child instance has a string that is not UTF-8 at /list/1/t"))
      << got[3].message;
  ASSERT_TRUE(got[4].ok()) << got[4].message;

  auto keyed = start("t.child", json::object(), bad);
  EXPECT_EQ(keyed.error, StepError::invalid_request);
  EXPECT_TRUE(mentions(keyed, "the business key of a new t.child instance is not valid UTF-8"))
      << keyed.message;
  auto member = start("t.child", {{bad, 1}});
  EXPECT_EQ(member.error, StepError::data_invalid);
  EXPECT_TRUE(mentions(member, "has a member name that is not UTF-8 in the object at the top"))
      << member.message;
  auto cancelled = engine_->cancel(parent, "why" + bad, Actor::system());
  EXPECT_EQ(cancelled.error, StepError::invalid_request);
  EXPECT_TRUE(mentions(cancelled, "the reason is not valid UTF-8")) << cancelled.message;

  // UTF-8 itself is fine, of any width.
  auto wide = start("t.child", {{"t", "餐馆 ✓ 𝄞"}}, "包保:2023Q2:商户-0042");
  ASSERT_TRUE(wide.ok()) << wide.message;
  EXPECT_TRUE(valid_utf8("餐馆 ✓ 𝄞"));
  for (const char* bytes : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97", "\x80"})
    EXPECT_FALSE(valid_utf8(bytes)) << ::testing::PrintToString(std::string(bytes));
  EXPECT_EQ(engine_->get(parent)->version, 2u);  // only the sound spawn
  EXPECT_TRUE(engine_->verify().ok());
}

namespace {

// Random text: empty, ASCII, Chinese, stray bytes (not UTF-8), up to 700 bytes.
std::string random_text(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  "9",
                                                  "-",
                                                  ":",
                                                  "餐",
                                                  "馆",
                                                  "𝄞",
                                                  "\xff",
                                                  "\xc0\xaf",
                                                  "\xed\xa0\x80",
                                                  "\xe6\x97",
                                                  "\x80",
                                                  std::string(1, '\0'),
                                                  "~/"};
  std::string s;
  std::size_t n = rng() % 4 == 0 ? rng() % 700 : rng() % 12;
  while (s.size() < n) s += pieces[rng() % pieces.size()];
  return s;
}

// Random JSON: scalars, texts as above, and now and then nesting past kMaxDataDepth.
json random_json(std::mt19937_64& rng, int depth = 0) {
  if (depth == 0 && rng() % 6 == 0) {  // deep
    json v = json::array();
    for (std::size_t i = 0, levels = 200 + rng() % 120; i < levels; ++i)
      v = json::array({std::move(v)});
    return json{{"deep", std::move(v)}};
  }
  switch (rng() % (depth > 3 ? 4 : 6)) {
    case 0:
      return nullptr;
    case 1:
      return static_cast<std::int64_t>(rng());
    case 2:
      return random_text(rng);
    case 3:
      return rng() % 2 == 0;
    case 4: {
      json a = json::array();
      for (std::size_t i = rng() % 4; i > 0; --i) a.push_back(random_json(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (std::size_t i = rng() % 4; i > 0; --i) o[random_text(rng)] = random_json(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace

// Batches of random requests (random keys, names, actors, payloads and data, often not
// UTF-8, too long or too deep) next to one sound start each. Every answer is a result or
// a refusal of that request; the sound start always commits; nothing is refused as a
// storage failure or an internal error; afterwards every instance reads back and every
// chain verifies. BIHUAN_REQUEST_ROUNDS sets the rounds (default 40), BIHUAN_REQUEST_SEED
// the seed.
TEST_F(EngineTest, RandomBadRequestsAreRefusedAloneAndNothingBreaks) {
  deploy(kLimitsParent);
  deploy(kLimitsChild);
  const char* env_rounds = std::getenv("BIHUAN_REQUEST_ROUNDS");
  const int rounds = env_rounds ? std::atoi(env_rounds) : 40;
  const char* env_seed = std::getenv("BIHUAN_REQUEST_SEED");
  std::mt19937_64 rng(env_seed ? std::strtoull(env_seed, nullptr, 10) : 20261129);
  std::vector<std::string> ids = {start("t.parent").instance->id};
  std::map<StepError, int> seen;
  int controls = 0;
  for (int round = 0; round < rounds; ++round) {
    constexpr int kPerBatch = 8;
    std::vector<std::promise<StepResult>> answers(kPerBatch + 1);
    {
      CommitGroup group(*engine_);
      auto answer = [&answers](int k) {
        return [&answers, k](StepResult r) { answers[k].set_value(std::move(r)); };
      };
      for (int k = 0; k < kPerBatch; ++k) {
        Actor actor{rng() % 3 ? "u1" : random_text(rng), {rng() % 3 ? "USER" : random_text(rng)}};
        switch (rng() % 2) {
          case 0: {
            StartRequest s;
            s.definition = rng() % 2 ? "t.child" : "t.parent";
            s.business_key = rng() % 2 ? random_text(rng) : std::string();
            s.idempotency_key = rng() % 2 ? random_text(rng) : std::string();
            json data = random_json(rng);
            s.data = data.is_object() ? std::move(data) : json{{"v", std::move(data)}};
            s.actor = actor;
            engine_->start_async(std::move(s), answer(k));
            break;
          }
          default: {
            EventRequest e;
            if (rng() % 4)
              e.instance_id = ids[rng() % ids.size()];
            else
              e.business_key = random_text(rng);
            static const char* events[] = {"spawn", "finish", "close", "childDone"};
            e.event = rng() % 4 ? events[rng() % 4] : random_text(rng);
            e.payload = rng() % 2 ? json{{"key", random_text(rng)}} : random_json(rng);
            e.idempotency_key = rng() % 2 ? random_text(rng) : std::string();
            e.actor = actor;
            engine_->send_async(std::move(e), answer(k));
          }
        }
      }
      StartRequest control;
      control.definition = "t.child";
      control.business_key = "control-" + std::to_string(round);
      engine_->start_async(std::move(control), answer(kPerBatch));
    }
    for (int k = 0; k <= kPerBatch; ++k) {
      StepResult r = answers[k].get_future().get();
      ++seen[r.error];
      EXPECT_NE(r.error, StepError::storage_error) << r.message;
      EXPECT_NE(r.error, StepError::internal_error) << r.message;
      if (k == kPerBatch) {
        ASSERT_TRUE(r.ok()) << "round " << round << ": the sound start was refused: " << r.message;
        ++controls;
      }
      if (r.ok() && r.instance && ids.size() < 64) ids.push_back(r.instance->id);
    }
    Actor canceller{rng() % 2 ? "admin" : random_text(rng), {"admin"}};
    StepResult c = engine_->cancel(ids[rng() % ids.size()], random_text(rng), canceller);
    ++seen[c.error];
    EXPECT_NE(c.error, StepError::storage_error) << c.message;
    EXPECT_NE(c.error, StepError::internal_error) << c.message;
  }
  std::string tally;
  for (const auto& [error, n] : seen) tally += " " + to_string(error) + "=" + std::to_string(n);
  std::cerr << "[requests] " << rounds << " rounds:" << tally << "\n";
  EXPECT_EQ(controls, rounds);
  EXPECT_GT(seen[StepError::invalid_request], 0);
  EXPECT_GT(seen[StepError::none], rounds);
  for (const auto& id : ids) EXPECT_TRUE(engine_->get(id) || !engine_->damage(id)) << id;
  auto report = engine_->verify();
  EXPECT_TRUE(report.ok()) << ::testing::PrintToString(report.broken);
}
