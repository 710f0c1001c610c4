#include "util/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>

namespace pushgate {
namespace {

TEST(SharedLibraryTest, AMissingLibrarySaysWhatNeedsIt) {
  Result<SharedLibrary> lib = SharedLibrary::Open("libpushgate-no-such-library.so.9", "the test's feature");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(lib.status().message().find("libpushgate-no-such-library.so.9"), std::string::npos);
  EXPECT_NE(lib.status().message().find("which the test's feature needs"), std::string::npos);
}

TEST(SharedLibraryTest, ResolvesFunctionsAndNamesAMissingOne) {
  Result<SharedLibrary> lib = SharedLibrary::Open("libc.so.6", "the test");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  decltype(&std::strlen) strlen_fn = nullptr;
  ASSERT_TRUE(lib->Resolve("strlen", &strlen_fn).ok());
  EXPECT_EQ(strlen_fn("push"), 4u);
  Status missing = lib->Resolve("pushgate_no_such_function", &strlen_fn);
  EXPECT_EQ(missing.code(), Status::Code::kUnavailable);
  EXPECT_NE(missing.message().find("libc.so.6 has no pushgate_no_such_function"), std::string::npos);
}

}  // namespace
}  // namespace pushgate
