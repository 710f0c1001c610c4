#include "controller/client.h"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>

#include "controller/json.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fd.h"

namespace pushgate {
namespace {

using testing::FakeController;
using testing::TempDir;

class ControllerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = testing::MakeKey(dir_.path(), "alice");
    bob_ = testing::MakeKey(dir_.path(), "bob");
    fake_.AddKey("alice", alice_.public_line);
    fake_.AddKey("bob", bob_.public_line);
    fake_.AddApp("web", {"alice"});
    testing::WriteFile(dir_ / "token", "test-token\n", 0600);
  }

  std::unique_ptr<ControllerClient> Client(const std::string& url, const std::string& extra_ca = "") {
    ControllerConfig config;
    config.url = url;
    config.token_file = dir_ / "token";
    config.ca_file = extra_ca;
    config.timeout = std::chrono::milliseconds(1500);
    Result<std::unique_ptr<ControllerClient>> client = ControllerClient::Create(config);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  TempDir dir_;
  FakeController fake_;
  testing::TestKey alice_, bob_;
};

TEST_F(ControllerClientTest, WorkflowEndpoints) {
  auto client = Client(fake_.url());
  auto owner = client->LookupKeyOwner(alice_.md5);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  ASSERT_TRUE(owner->has_value());
  EXPECT_EQ((*owner)->username, "alice");
  auto unknown = client->LookupKeyOwner("00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
  EXPECT_EQ(client->LookupKeyOwner("../../etc").status().code(), Status::Code::kInvalidArgument);

  auto allowed = client->AppUserKeys("web", "alice");
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->kind, AppAccess::Kind::kAllowed);
  ASSERT_EQ(allowed->keys.size(), 1u);
  EXPECT_EQ(allowed->keys[0].key, alice_.public_line);
  EXPECT_EQ(client->AppUserKeys("web", "bob")->kind, AppAccess::Kind::kForbidden);
  EXPECT_EQ(client->AppUserKeys("nope", "alice")->kind, AppAccess::Kind::kNoSuchApp);
  EXPECT_EQ(client->AppUserKeys("../x", "alice").status().code(), Status::Code::kInvalidArgument);
}

// The stock builder's hooks, as the real controller answers them.
TEST_F(ControllerClientTest, StockConfigAndBuildHooks) {
  auto client = Client(fake_.url());
  fake_.SetConfig("web", {{"FOO", "bar"}});
  Result<HookAnswer> config = client->FetchAppConfig("web", "alice");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->kind, HookAnswer::Kind::kOk);
  EXPECT_NE(config->body.find("\"values\":{\"FOO\":\"bar\"}"), std::string::npos) << config->body;
  EXPECT_EQ(client->FetchAppConfig("web", "bob")->kind, HookAnswer::Kind::kForbidden);
  Result<HookAnswer> no_app = client->FetchAppConfig("nope", "alice");
  EXPECT_EQ(no_app->kind, HookAnswer::Kind::kNoSuchApp);
  EXPECT_EQ(no_app->message, "No App matches the given query.");
  EXPECT_EQ(client->FetchAppConfig("web", "nobody")->message, "No User matches the given query.");

  WorkflowBuild build{"web", "alice", "1a2b3c4d", "127.0.0.1:5000/web:git-1a2b3c4d", {{"web", "./run"}}, true};
  Result<HookAnswer> released = client->PublishBuild(build, std::chrono::seconds(5), {});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(*DecodeReleaseVersion(released->body), 2);
  std::vector<FakeController::WorkflowBuildRecord> builds = fake_.WorkflowBuilds();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].sha, "1a2b3c4d");
  EXPECT_EQ(builds[0].image, build.image);
  EXPECT_EQ(builds[0].dockerfile, "true");
  EXPECT_EQ(builds[0].procfile, build.procfile);
  build.procfile = {{"Web", "./run"}};
  Result<HookAnswer> refused = client->PublishBuild(build, std::chrono::seconds(5), {});
  EXPECT_EQ(refused->kind, HookAnswer::Kind::kRefused);
  EXPECT_NE(refused->message.find("lowercase"), std::string::npos) << refused->message;
}

// A stock controller has none of pushgate's extensions: their routes get
// Django's HTML 404 page, which is "not implemented", never a refusal, and
// never shown to anyone.
TEST(ControllerStockTest, MissingRoutesAreNotImplementedNeverRelayed) {
  TempDir dir;
  FakeController stock(FakeController::Stock());
  stock.AddApp("web", {"alice"});
  testing::WriteFile(dir / "token", "test-token", 0600);
  ControllerConfig config;
  config.url = stock.url();
  config.token_file = dir / "token";
  std::unique_ptr<ControllerClient> client = std::move(ControllerClient::Create(config)).value();
  Result<bool> source = client->HasSource("sha256:" + std::string(64, 'a'));
  EXPECT_EQ(source.status().code(), Status::Code::kUnimplemented);
  EXPECT_NE(source.status().message().find("build.driver = \"workflow\""), std::string::npos);
  Result<BuildAdmission> build = client->CreateBuild(BuildSpec{"web", "alice", std::string(40, 'a'), "refs/heads/main",
                                                               "sha256:" + std::string(64, 'a'), "r", {}});
  EXPECT_EQ(build.status().code(), Status::Code::kUnimplemented);
  EXPECT_EQ(build.status().message().find("<"), std::string::npos) << build.status().message();
  EXPECT_EQ(client->FetchKeys(0, 10, false)->kind, FeedAnswer::Kind::kUnsupported);
  EXPECT_FALSE(client->LookupApps({"web"})->has_value());
  // The right API under a wrong base path answers the same way.
  config.url = stock.url() + "/api";
  client = std::move(ControllerClient::Create(config)).value();
  EXPECT_EQ(client->AppKeys("web").status().code(), Status::Code::kUnimplemented);
  EXPECT_EQ(client->FetchAppConfig("web", "alice").status().code(), Status::Code::kUnimplemented);
}

// Django usernames go into the path percent-encoded; Workflow routes only
// [-_\w]+ there, so others are not implemented (the workflow driver asks
// those users through the config hook instead).
TEST_F(ControllerClientTest, UserNamesAreEncodedInPaths) {
  EXPECT_EQ(EncodePathSegment("first.last"), "first.last");
  EXPECT_EQ(EncodePathSegment("a+b@example.com"), "a%2Bb%40example.com");
  EXPECT_EQ(EncodePathSegment("Alice_2-x~"), "Alice_2-x~");
  fake_.AddKey("Alice", testing::MakeKey(dir_.path(), "upper").public_line);
  fake_.Grant("web", "Alice");
  auto client = Client(fake_.url());
  EXPECT_EQ(client->AppUserKeys("web", "Alice")->kind, AppAccess::Kind::kAllowed);
  EXPECT_EQ(client->AppUserKeys("web", "first.last").status().code(), Status::Code::kUnimplemented);
}

// Workflow answers a key registered to two users with a 500 (its lookup
// finds two rows): unavailable, never a guess at the owner, no page relayed.
TEST_F(ControllerClientTest, AKeyOfTwoUsersIsAnErrorNotAnOwner) {
  fake_.AddDuplicateKey("mallory", alice_.public_line);
  auto client = Client(fake_.url());
  Result<std::optional<KeyOwner>> owner = client->LookupKeyOwner(alice_.md5);
  EXPECT_EQ(owner.status().code(), Status::Code::kUnavailable) << owner.status().ToString();
  EXPECT_EQ(owner.status().message().find("<"), std::string::npos) << owner.status().message();
}

TEST_F(ControllerClientTest, ARotatedTokenFileIsReadAgain) {
  auto client = Client(fake_.url());
  ASSERT_TRUE(client->AppUserKeys("web", "alice").ok());
  fake_.SetToken("rotated-token");
  EXPECT_EQ(client->AppUserKeys("web", "alice").status().code(), Status::Code::kUnavailable);
  testing::WriteFile(dir_ / "token.new", "rotated-token\n", 0600);
  ASSERT_EQ(::rename((dir_ / "token.new").c_str(), (dir_ / "token").c_str()), 0);
  Result<AppAccess> after = client->AppUserKeys("web", "alice");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->kind, AppAccess::Kind::kAllowed);
}

// Workflow's key lookup lists every app of the cluster: a large cluster
// must not turn logins into "answer too large".
TEST_F(ControllerClientTest, KeyLookupOnAClusterWithFiftyThousandApps) {
  for (int i = 0; i < 50000; ++i) fake_.AddApp("app-number-" + std::to_string(i), {});
  auto client = Client(fake_.url());
  auto owner = client->LookupKeyOwner(alice_.md5);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  ASSERT_TRUE(owner->has_value());
  EXPECT_EQ((*owner)->username, "alice");
}

TEST_F(ControllerClientTest, DeltaFeedPagesGoneAndUnsupported) {
  auto client = Client(fake_.url());
  auto first = client->FetchKeys(0, 1, false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->kind, FeedAnswer::Kind::kPage);
  EXPECT_EQ(first->page.changes.size(), 1u);
  EXPECT_TRUE(first->page.more);
  auto second = client->FetchKeys(first->page.revision, 10, true);
  EXPECT_FALSE(second->page.more);
  EXPECT_EQ(second->page.revision, fake_.revision());
  fake_.Compact();
  fake_.RemoveKey(bob_.sha256);
  EXPECT_EQ(client->FetchKeys(1, 10, false)->kind, FeedAnswer::Kind::kGone);
  EXPECT_EQ(client->FetchKeys(1, 10, true)->kind, FeedAnswer::Kind::kPage);  // a snapshot continuation
  EXPECT_EQ(client->FetchKeys(0, 10, false)->kind, FeedAnswer::Kind::kPage);
  fake_.SetDeltaFeed(false);
  EXPECT_EQ(client->FetchKeys(0, 10, false)->kind, FeedAnswer::Kind::kUnsupported);
}

TEST_F(ControllerClientTest, WrongTokenIsAClearError) {
  testing::WriteFile(dir_ / "token", "wrong\n", 0600);
  auto client = Client(fake_.url());
  Result<FeedAnswer> answer = client->FetchKeys(0, 10, false);
  EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(answer.status().message().find("401"), std::string::npos);
  EXPECT_NE(answer.status().message().find("token_file"), std::string::npos);
}

TEST_F(ControllerClientTest, MissingOrEmptyTokenFileIsRefusedUpFront) {
  ControllerConfig config;
  config.url = fake_.url();
  config.token_file = dir_ / "missing";
  EXPECT_FALSE(ControllerClient::Create(config).ok());
  testing::WriteFile(dir_ / "empty", "\n", 0600);
  config.token_file = dir_ / "empty";
  EXPECT_FALSE(ControllerClient::Create(config).ok());
}

TEST(AuthHeaderTest, BearerIsAddedForAuthorizationOnly) {
  EXPECT_EQ(AuthHeaderLine("X-Deis-Builder-Auth", "abc"), "X-Deis-Builder-Auth: abc");
  EXPECT_EQ(AuthHeaderLine("Authorization", "abc"), "Authorization: Bearer abc");
  EXPECT_EQ(AuthHeaderLine("authorization", "Bearer abc"), "authorization: Bearer abc");
}

TEST(ControllerClientBearerTest, AuthorizationBearerWorks) {
  TempDir dir;
  FakeController::Options options;
  options.auth_header = "Authorization";
  FakeController fake(options);
  testing::WriteFile(dir / "token", "test-token", 0600);
  ControllerConfig config;
  config.url = fake.url();
  config.token_file = dir / "token";
  config.auth_header = "Authorization";
  auto client = ControllerClient::Create(config);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->FetchKeys(0, 10, false).ok());
}

// Every fault ends in an error that says so, within the timeout, and never a
// partial answer.
TEST_F(ControllerClientTest, FaultsAreErrorsWithinTheDeadline) {
  auto client = Client(fake_.url());
  struct Case {
    FakeController::Fault fault;
    Status::Code code;
  };
  const Case cases[] = {
      {FakeController::Fault::kServerError, Status::Code::kUnavailable},
      {FakeController::Fault::kTruncated, Status::Code::kUnavailable},
      {FakeController::Fault::kMalformed, Status::Code::kUnavailable},
      {FakeController::Fault::kWrongTypes, Status::Code::kUnavailable},
      {FakeController::Fault::kDuplicateKeys, Status::Code::kUnavailable},
      {FakeController::Fault::kDeepNesting, Status::Code::kUnavailable},
      {FakeController::Fault::kReset, Status::Code::kUnavailable},
      {FakeController::Fault::kHuge, Status::Code::kResourceExhausted},
      {FakeController::Fault::kSlowloris, Status::Code::kTimeout},
  };
  for (const Case& c : cases) {
    fake_.InjectFault("/v2/hooks/keys", c.fault);
    auto start = std::chrono::steady_clock::now();
    Result<FeedAnswer> answer = client->FetchKeys(0, 10, false);
    EXPECT_EQ(answer.status().code(), c.code) << static_cast<int>(c.fault) << ": " << answer.status().ToString();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << static_cast<int>(c.fault);
  }
  // The same client works again afterwards.
  EXPECT_TRUE(client->FetchKeys(0, 10, false).ok());
}

TEST_F(ControllerClientTest, OversizedChunkedAnswersAreCutOff) {
  auto client = Client(fake_.url());
  fake_.InjectFault("/v2/hooks/keys/web", FakeController::Fault::kHugeChunked);
  Result<AppAccess> access = client->AppUserKeys("web", "alice");
  EXPECT_EQ(access.status().code(), Status::Code::kResourceExhausted) << access.status().ToString();
}

TEST_F(ControllerClientTest, SlowAnswersTimeOut) {
  auto client = Client(fake_.url());
  fake_.InjectFault("/v2/hooks/key/", FakeController::Fault::kLatency, 1, std::chrono::seconds(3));
  EXPECT_EQ(client->LookupKeyOwner(alice_.md5).status().code(), Status::Code::kTimeout);
}

TEST_F(ControllerClientTest, ControllerDownIsUnavailable) {
  auto client = Client(fake_.url());
  fake_.Stop();
  Result<AppAccess> access = client->AppUserKeys("web", "alice");
  EXPECT_EQ(access.status().code(), Status::Code::kUnavailable);
  fake_.Start();
  EXPECT_TRUE(client->AppUserKeys("web", "alice").ok());
}

TEST(ControllerClientTlsTest, VerifiesTheCertificateAndAcceptsAPrivateCa) {
  TempDir dir;
  // A private CA and a server certificate for 127.0.0.1 signed by it.
  testing::RunOk({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test ca",
                  "-keyout", dir / "ca.key", "-out", dir / "ca.pem"});
  testing::RunOk({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
                  dir / "server.key", "-out", dir / "server.csr"});
  testing::WriteFile(dir / "san.ext", "subjectAltName=IP:127.0.0.1\n");
  testing::RunOk({"openssl", "x509", "-req", "-in", dir / "server.csr", "-CA", dir / "ca.pem", "-CAkey",
                  dir / "ca.key", "-CAcreateserial", "-days", "2", "-extfile", dir / "san.ext", "-out",
                  dir / "server.pem"});
  FakeController::Options options;
  options.tls_cert = dir / "server.pem";
  options.tls_key = dir / "server.key";
  FakeController fake(options);
  testing::WriteFile(dir / "token", "test-token", 0600);
  ControllerConfig config;
  config.url = fake.url();
  config.token_file = dir / "token";

  auto untrusted = ControllerClient::Create(config);
  Result<FeedAnswer> refused = (*untrusted)->FetchKeys(0, 10, false);
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("certificate"), std::string::npos) << refused.status().message();

  config.ca_file = dir / "ca.pem";
  auto trusted = ControllerClient::Create(config);
  Result<FeedAnswer> answer = (*trusted)->FetchKeys(0, 10, false);
  EXPECT_TRUE(answer.ok()) << answer.status().ToString();
}

// A source archive stand-in: the controller stores bytes by their digest.
struct Blob {
  std::string path;
  std::string digest;
  uint64_t size;
};

Blob WriteBlob(const TempDir& dir, const std::string& name, const std::string& content) {
  testing::WriteFile(dir / name, content);
  std::string sha = testing::RunOk({"sh", "-c", "sha256sum " + (dir / name) + " | cut -d' ' -f1"});
  while (!sha.empty() && sha.back() == '\n') sha.pop_back();
  return Blob{dir / name, "sha256:" + sha, content.size()};
}

Status Upload(ControllerClient& client, const Blob& blob, std::string_view digest) {
  UniqueFd fd(::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC));
  return client.UploadSource(digest, fd.get(), {});
}

TEST_F(ControllerClientTest, SourcesAreContentAddressed) {
  auto client = Client(fake_.url());
  Blob blob = WriteBlob(dir_, "src.tar.gz", std::string(300000, 'z'));
  EXPECT_EQ(client->HasSource(blob.digest).value(), false);
  ASSERT_TRUE(Upload(*client, blob, blob.digest).ok());
  EXPECT_EQ(client->HasSource(blob.digest).value(), true);
  EXPECT_EQ(fake_.Source(blob.digest), std::string(300000, 'z'));

  Blob other = WriteBlob(dir_, "other.tar.gz", "other bytes");
  Status wrong = Upload(*client, other, blob.digest.substr(0, 7) + std::string(64, '0'));
  EXPECT_EQ(wrong.code(), Status::Code::kInvalidArgument) << wrong.ToString();
  EXPECT_NE(wrong.message().find("digest"), std::string::npos) << wrong.message();
  EXPECT_EQ(client->HasSource("sha256:../../x").status().code(), Status::Code::kInvalidArgument);
}

TEST_F(ControllerClientTest, BuildLifecycle) {
  auto client = Client(fake_.url());
  client->set_request_id("req-1");
  Blob blob = WriteBlob(dir_, "src.tar.gz", "source");
  ASSERT_TRUE(Upload(*client, blob, blob.digest).ok());
  FakeController::BuildScript script;
  script.log = {{Duration(0), "line one\n"}, {std::chrono::milliseconds(300), "line two\n"}};
  script.message = "deployed";
  fake_.SetBuildScript(script);
  BuildSpec spec{"web", "alice", std::string(40, 'a'), "refs/heads/main", blob.digest, "req-1", {"nocache", "env=a b"}};
  Result<BuildAdmission> admission = client->CreateBuild(spec);
  ASSERT_TRUE(admission.ok()) << admission.status().ToString();
  ASSERT_EQ(admission->kind, BuildAdmission::Kind::kCreated);
  auto builds = fake_.Builds();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].app, "web");
  EXPECT_EQ(builds[0].username, "alice");
  EXPECT_EQ(builds[0].sha, std::string(40, 'a'));
  EXPECT_EQ(builds[0].ref, "refs/heads/main");
  EXPECT_EQ(builds[0].source, blob.digest);
  EXPECT_EQ(builds[0].request_id, "req-1");
  EXPECT_EQ(builds[0].request_id_header, "req-1");
  EXPECT_EQ(builds[0].push_options, "[\"nocache\",\"env=a b\"]");

  EXPECT_FALSE(client->GetBuild(admission->id)->finished());
  std::string log;
  Status streamed = client->StreamBuildLog(admission->id, 0, {[&](std::string_view b) {
                                                                  log.append(b);
                                                                  return Status::OK();
                                                                },
                                                                nullptr});
  ASSERT_TRUE(streamed.ok()) << streamed.ToString();
  EXPECT_EQ(log, "line one\nline two\n");
  Result<BuildState> state = client->GetBuild(admission->id);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, BuildState::Phase::kSucceeded);
  EXPECT_EQ(state->message, "deployed");
  EXPECT_EQ(state->release_version, 1);

  std::string tail;
  ASSERT_TRUE(client->StreamBuildLog(admission->id, 5, {[&](std::string_view b) {
                                                          tail.append(b);
                                                          return Status::OK();
                                                        },
                                                        nullptr})
                  .ok());
  EXPECT_EQ(tail, "one\nline two\n");
  EXPECT_EQ(client->GetBuild("../keys").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client->GetBuild("b-999").status().code(), Status::Code::kNotFound);
}

TEST_F(ControllerClientTest, BuildRefusalsCarryTheControllersReason) {
  auto client = Client(fake_.url());
  Blob blob = WriteBlob(dir_, "src.tar.gz", "source");
  ASSERT_TRUE(Upload(*client, blob, blob.digest).ok());
  BuildSpec spec{"web", "alice", std::string(40, 'a'), "refs/heads/main", blob.digest, "r", {}};

  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kConflict);
  Result<BuildAdmission> busy = client->CreateBuild(spec);
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->kind, BuildAdmission::Kind::kBusy);
  EXPECT_NE(busy->message.find("running"), std::string::npos);

  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kQuota);
  Result<BuildAdmission> quota = client->CreateBuild(spec);
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ(quota->kind, BuildAdmission::Kind::kQuota);
  EXPECT_EQ(quota->retry_after, "120");
  EXPECT_EQ(quota->message, "10 builds per hour");

  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kServerError);
  EXPECT_EQ(client->CreateBuild(spec).status().code(), Status::Code::kUnavailable);

  BuildSpec stranger = spec;
  stranger.username = "bob";
  EXPECT_EQ(client->CreateBuild(stranger)->kind, BuildAdmission::Kind::kForbidden);
  BuildSpec nowhere = spec;
  nowhere.app = "nowhere";
  EXPECT_EQ(client->CreateBuild(nowhere)->kind, BuildAdmission::Kind::kNoSuchApp);
  EXPECT_TRUE(fake_.Builds().empty());
}

}  // namespace
}  // namespace pushgate
