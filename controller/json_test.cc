#include "controller/json.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(DecodeDeltaPageTest, ReadsPutsAndDeletes) {
  Result<DeltaPage> page = DecodeDeltaPage(R"({"revision": 42, "more": true, "changes": [
      {"op": "put", "fingerprint": "SHA256:a", "username": "alice", "key": "ssh-ed25519 AAAA x", "extra": 1},
      {"op": "delete", "fingerprint": "SHA256:b"}], "server": "future field"})");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->revision, 42u);
  EXPECT_TRUE(page->more);
  ASSERT_EQ(page->changes.size(), 2u);
  EXPECT_EQ(page->changes[0].op, KeyChange::Op::kPut);
  EXPECT_EQ(page->changes[0].username, "alice");
  EXPECT_EQ(page->changes[0].key, "ssh-ed25519 AAAA x");
  EXPECT_EQ(page->changes[1].op, KeyChange::Op::kDelete);
  EXPECT_EQ(page->changes[1].fingerprint, "SHA256:b");
}

// Hostile or broken answers: each is a clear error, never a partial value.
TEST(DecodeDeltaPageTest, RefusesEveryMalformedShape) {
  const char* bad[] = {
      "",
      "{",
      "[]",
      "null",
      R"({"revision": "42", "more": false, "changes": []})",
      R"({"revision": -1, "more": false, "changes": []})",
      R"({"revision": 1.5, "more": false, "changes": []})",
      R"({"revision": 1, "more": "false", "changes": []})",
      R"({"revision": 1, "more": false, "changes": {}})",
      R"({"revision": 1, "more": false})",
      R"({"more": false, "changes": []})",
      R"({"revision": 1, "revision": 2, "more": false, "changes": []})",
      R"({"revision": 1, "more": false, "changes": [{"op": "put", "fingerprint": "SHA256:a"}]})",
      R"({"revision": 1, "more": false, "changes": [{"op": "upsert", "fingerprint": "SHA256:a"}]})",
      R"({"revision": 1, "more": false, "changes": [{"op": "delete"}]})",
      R"({"revision": 1, "more": false, "changes": [{"op": "delete", "fingerprint": 7}]})",
      R"({"revision": 1, "more": false, "changes": [{"op": "delete", "fingerprint": "x", "fingerprint": "y"}]})",
      R"({"revision": 1, "more": false, "changes": ["put"]})",
      R"({"revision": 1, "more": false, "changes": [[[[[[[[[[[[[[]]]]]]]]]]]]]]})",
      R"({"revision": 99999999999999999999999, "more": false, "changes": []})",
  };
  for (const char* json : bad) {
    Result<DeltaPage> page = DecodeDeltaPage(json);
    EXPECT_FALSE(page.ok()) << json;
    if (!page.ok()) {
      EXPECT_NE(page.status().message().find("malformed controller answer"), std::string::npos) << json;
    }
  }
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(DecodeDeltaPage(deep).ok());
}

// Workflow lists every app of the cluster in "apps"; pushgate reads only the
// owner, so what "apps" holds never matters.
TEST(DecodeKeyOwnerTest, ReadsOwnerAndRefusesBadShapes) {
  Result<KeyOwner> owner = DecodeKeyOwner(R"({"username": "alice", "apps": ["a", "b"]})");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->username, "alice");
  EXPECT_TRUE(DecodeKeyOwner(R"({"username": "alice"})").ok());
  EXPECT_TRUE(DecodeKeyOwner(R"({"username": "a", "apps": [1, {}]})").ok());
  for (const char* json : {R"({"apps": []})", R"({"username": 1})", R"({"username": "a", "username": "b"})", "[]"}) {
    EXPECT_FALSE(DecodeKeyOwner(json).ok()) << json;
  }
}

TEST(DecodeStockHooksTest, ConfigReleaseAndBuildResult) {
  EXPECT_TRUE(CheckAppConfig(R"({"owner": "alice", "values": {"FOO": "bar"}, "memory": {}})").ok());
  EXPECT_TRUE(CheckAppConfig(R"({"owner": "alice"})").ok());
  EXPECT_FALSE(CheckAppConfig(R"({"values": "FOO=bar"})").ok());
  EXPECT_FALSE(CheckAppConfig(R"("No App matches the given query.")").ok());
  EXPECT_EQ(*DecodeReleaseVersion(R"({"release": {"version": 7}})"), 7);
  for (const char* json : {R"({"release": {"version": "7"}})", R"({"release": {}})", R"({"release": 7})",
                           R"({"release": {"version": 0}})", "{}"}) {
    EXPECT_FALSE(DecodeReleaseVersion(json).ok()) << json;
  }
  EXPECT_EQ(*DecodeBuildResult(R"({"image": "127.0.0.1:5000/web:git-1a2b3c4d"})"), "127.0.0.1:5000/web:git-1a2b3c4d");
  EXPECT_EQ(*DecodeBuildResult(R"({"image": "registry/web@sha256:00ff", "extra": 1})"), "registry/web@sha256:00ff");
  for (const char* json : {R"({})", R"({"image": ""})", R"({"image": "web latest"})", R"({"image": "-web"})",
                           R"({"image": "web\"x"})", R"({"image": 5})", "not json"}) {
    EXPECT_FALSE(DecodeBuildResult(json).ok()) << json;
  }
}

TEST(DecodeKeyListsTest, ReadsListsAndRefusesBadShapes) {
  Result<KeyLists> lists = DecodeKeyLists(
      R"({"alice": [{"key": "ssh-ed25519 AAAA", "fingerprint": "e4:1f"}, {"key": "ssh-rsa BBBB"}], "bob": []})");
  ASSERT_TRUE(lists.ok()) << lists.status().ToString();
  ASSERT_EQ(lists->at("alice").size(), 2u);
  EXPECT_EQ(lists->at("alice")[1].key, "ssh-rsa BBBB");
  EXPECT_TRUE(lists->at("bob").empty());
  for (const char* json : {R"({"alice": {}})", R"({"alice": [{"fingerprint": "x"}]})", R"({"alice": [{"key": 5}]})",
                           R"({"alice": [], "alice": []})", R"({"alice": ["ssh-ed25519 AAAA"]})", "\"x\""}) {
    EXPECT_FALSE(DecodeKeyLists(json).ok()) << json;
  }
}

TEST(DecodeBuildTest, ReadsCreatedAndState) {
  Result<std::string> id = DecodeBuildCreated(R"({"id": "b-42", "url": "ignored"})");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "b-42");

  Result<BuildState> running = DecodeBuildState(R"({"id": "b-42", "state": "running", "message": null, "release": null})");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->phase, BuildState::Phase::kRunning);
  EXPECT_FALSE(running->finished());
  EXPECT_FALSE(running->release_version.has_value());

  Result<BuildState> done =
      DecodeBuildState(R"({"id": "b-42", "state": "succeeded", "message": "ok", "release": {"version": 7}})");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->phase, BuildState::Phase::kSucceeded);
  EXPECT_TRUE(done->finished());
  EXPECT_EQ(done->message, "ok");
  EXPECT_EQ(done->release_version, 7);

  for (const char* state : {"pending", "failed", "cancelled"}) {
    std::string json = std::string(R"({"id": "x", "state": ")") + state + "\"}";
    EXPECT_TRUE(DecodeBuildState(json).ok()) << state;
  }
}

// A build id goes into URL paths: anything but a plain token is refused.
TEST(DecodeBuildTest, RefusesHostileIdsAndShapes) {
  const char* bad_created[] = {
      R"({"id": "../../v2/hooks/keys"})", R"({"id": "a/b"})", R"({"id": "a?offset=9"})", R"({"id": ""})",
      R"({"id": ".."})",                   R"({"id": 42})",    R"({"id": "a", "id": "b"})", R"({})",
      R"(["b-1"])",                        "{"};
  for (const char* json : bad_created) {
    EXPECT_EQ(DecodeBuildCreated(json).status().code(), Status::Code::kCorruption) << json;
  }
  EXPECT_FALSE(DecodeBuildCreated("{\"id\": \"" + std::string(129, 'a') + "\"}").ok());
  const char* bad_state[] = {
      R"({"id": "b", "state": "done"})",
      R"({"id": "b", "state": 3})",
      R"({"id": "b"})",
      R"({"state": "running"})",
      R"({"id": "b", "state": "running", "release": {"version": "7"}})",
      R"({"id": "b", "state": "running", "release": {"version": -1}})",
      R"({"id": "b", "state": "running", "release": 7})",
      R"({"id": "b", "state": "running", "message": 7})",
      R"({"id": "b", "state": "running", "state": "failed"})",
  };
  for (const char* json : bad_state) {
    EXPECT_EQ(DecodeBuildState(json).status().code(), Status::Code::kCorruption) << json;
  }
}

TEST(DecodeAppLookupTest, ReadsExistenceAndRefusesAnythingElse) {
  Result<std::map<std::string, bool>> apps = DecodeAppLookup(R"({"apps": {"web": true, "old": false}, "x": 1})");
  ASSERT_TRUE(apps.ok()) << apps.status().ToString();
  EXPECT_EQ(*apps, (std::map<std::string, bool>{{"web", true}, {"old", false}}));
  const char* bad[] = {R"({})",
                       R"({"apps": []})",
                       R"({"apps": {"web": "yes"}})",
                       R"({"apps": {"web": 0}})",
                       R"({"apps": {"web": true, "web": false}})",
                       R"({"apps": {}, "apps": {}})",
                       "[]"};
  for (const char* json : bad) EXPECT_EQ(DecodeAppLookup(json).status().code(), Status::Code::kCorruption) << json;
}

TEST(DecodeErrorMessageTest, FindsTheReason) {
  EXPECT_EQ(DecodeErrorMessage(R"({"detail": "quota exceeded"})"), "quota exceeded");
  EXPECT_EQ(DecodeErrorMessage(R"({"message": "app is locked"})"), "app is locked");
  EXPECT_EQ(DecodeErrorMessage("plain text reason"), "plain text reason");
  EXPECT_EQ(DecodeErrorMessage("<html><body>502</body></html>"), "");
  EXPECT_EQ(DecodeErrorMessage(R"({"detail": 42})"), "");
  EXPECT_EQ(DecodeErrorMessage(""), "");
  EXPECT_EQ(DecodeErrorMessage(std::string(600, 'x')), "");
}

TEST(DecodeFlatObjectTest, ReadsStringsAndIntegersAndRefusesAnythingElse) {
  Result<std::map<std::string, std::string>> fields =
      DecodeFlatObject(R"({"removed":2,"breaker":"","reason":"a \"quoted\" word"})", "the record");
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  EXPECT_EQ(*fields, (std::map<std::string, std::string>{{"removed", "2"}, {"breaker", ""}, {"reason", "a \"quoted\" word"}}));
  for (const char* bad : {R"({"a":{"b":1}})", R"({"a":[1]})", R"({"a":true})", R"({"a":1,"a":2})", "[1]", "{", ""}) {
    Result<std::map<std::string, std::string>> refused = DecodeFlatObject(bad, "the record");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().message().rfind("the record is not a flat JSON object", 0), 0u) << refused.status().message();
  }
}

}  // namespace
}  // namespace pushgate
