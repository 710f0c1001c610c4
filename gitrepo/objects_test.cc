#include "gitrepo/objects.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

bool Invalid(const Status& s) { return s.code() == Status::Code::kInvalidArgument; }

std::string Entry(const std::string& mode, const std::string& name, char fill = 'a') {
  return mode + " " + name + std::string(1, '\0') + std::string(kObjectIdSize, fill);
}

TEST(ParseTreeTest, ReadsEveryModeGitWrites) {
  std::string raw = Entry("40000", "dir") + Entry("100644", "file") + Entry("100755", "exe") +
                    Entry("120000", "link") + Entry("160000", "sub") + Entry("100664", "old", 'b');
  std::vector<RawTreeEntry> entries;
  ASSERT_TRUE(ParseTree(raw, &entries).ok());
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0].mode, RawTreeEntry::Mode::kDirectory);
  EXPECT_EQ(entries[0].name, "dir");
  EXPECT_EQ(entries[1].mode, RawTreeEntry::Mode::kFile);
  EXPECT_EQ(entries[2].mode, RawTreeEntry::Mode::kExecutable);
  EXPECT_EQ(entries[3].mode, RawTreeEntry::Mode::kSymlink);
  EXPECT_EQ(entries[4].mode, RawTreeEntry::Mode::kSubmodule);
  EXPECT_EQ(entries[5].mode, RawTreeEntry::Mode::kFile);  // group-writable, as old git wrote it
  EXPECT_EQ(entries[5].id, std::string(kObjectIdSize, 'b'));
  EXPECT_TRUE(ParseTree("", &entries).ok());
  EXPECT_TRUE(entries.empty());
}

// Names are handed over as stored: refusing "..", "a/b" or a repeated name
// is the walk's and the policy's business, and they must see them.
TEST(ParseTreeTest, HostileNamesAreReportedAsStored) {
  std::string raw = Entry("100644", "..") + Entry("100644", "a/b") + Entry("100644", "..");
  std::vector<RawTreeEntry> entries;
  ASSERT_TRUE(ParseTree(raw, &entries).ok());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "..");
  EXPECT_EQ(entries[1].name, "a/b");
}

TEST(ParseTreeTest, MalformedTreesAreRefusedNeverOverread) {
  std::vector<RawTreeEntry> entries;
  std::string good = Entry("100644", "file");
  for (size_t cut = 1; cut < good.size(); ++cut) {
    Status s = ParseTree(good.substr(0, cut), &entries);
    EXPECT_TRUE(Invalid(s)) << "cut at " << cut << ": " << s.ToString();
  }
  EXPECT_TRUE(Invalid(ParseTree(Entry("100644", ""), &entries)));    // empty name
  EXPECT_TRUE(Invalid(ParseTree(Entry("100666", "f"), &entries)));   // a mode git never writes
  EXPECT_TRUE(Invalid(ParseTree(Entry("0100644", "f"), &entries)));  // git does not pad modes
  EXPECT_TRUE(Invalid(ParseTree(Entry("", "f"), &entries)));
  EXPECT_TRUE(Invalid(ParseTree(Entry("1006441234", "f"), &entries)));
}

const char kCommit[] =
    "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
    "parent 1111111111111111111111111111111111111111\n"
    "author A <a@example.com> 1600000000 +0000\n"
    "committer C > D <c@example.com> 1700000000 +0100\n"
    "gpgsig -----BEGIN PGP SIGNATURE-----\n"
    " \n"
    " abc\n"
    " -----END PGP SIGNATURE-----\n"
    "\n"
    "\n"
    "  Fix the thing  \n"
    "across two lines\n"
    "\n"
    "Body.\n";

TEST(ParseCommitTest, ReadsTreeCommitterTimeAndSummary) {
  Result<ParsedCommit> commit = ParseCommit(kCommit);
  ASSERT_TRUE(commit.ok()) << commit.status().ToString();
  EXPECT_EQ(commit->tree, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
  EXPECT_EQ(commit->time, 1700000000);
  EXPECT_EQ(commit->summary, "Fix the thing across two lines");
}

TEST(ParseCommitTest, AnEmptyMessageHasAnEmptySummary) {
  Result<ParsedCommit> commit =
      ParseCommit("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ncommitter c <c@d> 5 +0000\n\n");
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(commit->summary, "");
  EXPECT_EQ(commit->time, 5);
}

TEST(ParseCommitTest, MalformedCommitsAreRefused) {
  for (const char* raw : {
           "",
           "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n",                       // headers never end
           "committer c <c@d> 5 +0000\n\n",                                         // no tree
           "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\n",                     // no committer
           "tree xyz\ncommitter c <c@d> 5 +0000\n\n",                               // tree is not an id
           "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ncommitter c c@d 5\n\n",  // no email
           "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ncommitter c <c@d> -5 +0000\n\n",
           "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ncommitter c <c@d> 99999999999999999999 +0\n\n",
       }) {
    EXPECT_TRUE(Invalid(ParseCommit(raw).status())) << raw;
  }
}

TEST(ObjectIdTest, HexForms) {
  EXPECT_TRUE(IsHexObjectId("4b825dc642cb6eb9a060e54bf8d69288fbee4904"));
  EXPECT_TRUE(IsHexObjectId("4B825DC642CB6EB9A060E54BF8D69288FBEE4904"));
  EXPECT_FALSE(IsHexObjectId("4b825dc642cb6eb9a060e54bf8d69288fbee490"));
  EXPECT_FALSE(IsHexObjectId("4b825dc642cb6eb9a060e54bf8d69288fbee490g"));
  EXPECT_FALSE(IsHexObjectId("-b825dc642cb6eb9a060e54bf8d69288fbee4904"));
}

}  // namespace
}  // namespace pushgate
