#include "util/names.h"

#include <array>

namespace pushgate {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

bool IsValidAppName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 150 || name.front() == '-' || name == "." || name == "..") return false;
  for (char c : name) {
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!letter && c != '@' && c != '.' && c != '+' && c != '_' && c != '-') return false;
  }
  return true;
}

namespace {

bool IsLowerName(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  if (!IsLowerAlnum(name.front())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

bool IsValidLocalUserName(std::string_view name) { return IsLowerName(name, 64); }

bool IsValidUnixUserName(std::string_view name) { return IsLowerName(name, 32); }

namespace {
constexpr std::string_view kDeployKeyPrefix = "deploy-key:";
}  // namespace

bool IsValidDeployKeyName(std::string_view name) { return IsLowerName(name, 64); }

std::string DeployKeyOwner(std::string_view app, std::string_view name) {
  std::string owner(kDeployKeyPrefix);
  owner += app;
  owner += ':';
  owner += name;
  return owner;
}

std::optional<DeployKeyId> ParseDeployKeyOwner(std::string_view owner) {
  if (owner.substr(0, kDeployKeyPrefix.size()) != kDeployKeyPrefix) return std::nullopt;
  owner.remove_prefix(kDeployKeyPrefix.size());
  size_t colon = owner.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  DeployKeyId id{owner.substr(0, colon), owner.substr(colon + 1)};
  if (!IsValidAppName(id.app) || !IsValidDeployKeyName(id.name)) return std::nullopt;
  return id;
}

std::string DeployKeyPusher(std::string_view name) { return std::string(kDeployKeyPrefix) + std::string(name); }

std::string PusherOf(std::string_view key_owner) {
  if (std::optional<DeployKeyId> id = ParseDeployKeyOwner(key_owner)) return DeployKeyPusher(id->name);
  return std::string(key_owner);
}

bool IsValidKeyOwner(std::string_view owner) {
  return IsValidUserName(owner) || ParseDeployKeyOwner(owner).has_value();
}

bool IsValidPusher(std::string_view pusher) {
  if (IsValidUserName(pusher)) return true;
  return pusher.substr(0, kDeployKeyPrefix.size()) == kDeployKeyPrefix &&
         IsValidDeployKeyName(pusher.substr(kDeployKeyPrefix.size()));
}

bool IsValidSha256Fingerprint(std::string_view fp) {
  constexpr std::string_view kPrefix = "SHA256:";
  if (fp.size() != kPrefix.size() + 43 || fp.substr(0, kPrefix.size()) != kPrefix) return false;
  fp.remove_prefix(kPrefix.size());
  for (char c : fp) {
    if (!IsBase64Char(c)) return false;
  }
  // 43 characters carry 258 bits; the last one may only encode 4 bits (the
  // digest is 256 bits), so its low two bits are zero in canonical form.
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return kAlphabet.find(fp.back()) % 4 == 0;
}

bool IsAllowedKeyType(std::string_view type) {
  static constexpr std::array<std::string_view, 7> kTypes = {
      "ssh-ed25519",
      "ssh-rsa",
      "ecdsa-sha2-nistp256",
      "ecdsa-sha2-nistp384",
      "ecdsa-sha2-nistp521",
      "sk-ssh-ed25519@openssh.com",
      "sk-ecdsa-sha2-nistp256@openssh.com",
  };
  for (std::string_view t : kTypes) {
    if (t == type) return true;
  }
  return false;
}

bool IsBase64Blob(std::string_view blob) {
  if (blob.empty() || blob.size() > 16384 || blob.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && blob[blob.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < blob.size(); ++i) {
    if (!IsBase64Char(blob[i])) return false;
  }
  return true;
}

bool IsSafeAbsolutePath(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 1024) return false;
  for (char c : path) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  if (path.find("//") != std::string_view::npos) return false;
  // Reject "." and ".." components so the path names exactly one place.
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool IsValidBranchRef(std::string_view ref) {
  constexpr std::string_view kPrefix = "refs/heads/";
  if (ref.size() <= kPrefix.size() || ref.size() > 255 || ref.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  std::string_view branch = ref.substr(kPrefix.size());
  if (branch.front() == '/' || branch.back() == '/' || branch.back() == '.' ||
      branch.front() == '.' || branch.front() == '-') {
    return false;
  }
  if (branch.find("..") != std::string_view::npos || branch.find("//") != std::string_view::npos ||
      branch.find("/.") != std::string_view::npos || branch.find(".lock") != std::string_view::npos) {
    return false;
  }
  for (char c : branch) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidBuildId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Printable(std::string_view text, size_t max_chars) {
  std::string out;
  for (char c : text.substr(0, max_chars)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7F) ? '?' : c;
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

}  // namespace pushgate
