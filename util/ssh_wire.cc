#include "util/ssh_wire.h"

#include "util/names.h"
#include "util/sha256.h"

namespace pushgate {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string_view NextKeyLineField(std::string_view& rest) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!rest.empty() && blank(rest.front())) rest.remove_prefix(1);
  size_t end = 0;
  while (end < rest.size() && !blank(rest[end])) ++end;
  std::string_view field = rest.substr(0, end);
  rest.remove_prefix(end);
  return field;
}

std::optional<std::string> KeyLineSha256Fingerprint(std::string_view line) {
  std::string_view type = NextKeyLineField(line);
  std::string_view blob = NextKeyLineField(line);
  if (!IsAllowedKeyType(type)) return std::nullopt;
  std::optional<std::string> bytes = DecodeBase64(blob);
  if (!bytes || EncodeBase64(*bytes, true) != blob) return std::nullopt;
  WireReader reader(*bytes);
  std::string_view blob_type;
  if (!reader.ReadString(blob_type) || blob_type != type) return std::nullopt;
  return FingerprintText(Sha256Bytes(*bytes));
}

std::string FingerprintText(std::string_view digest) { return "SHA256:" + EncodeBase64(digest, false); }

std::optional<std::string> DecodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = Base64Value(in[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return std::nullopt;
  }
  return out;
}

std::string EncodeBase64(std::string_view bytes, bool pad) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : bytes) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3F];
  while (pad && out.size() % 4 != 0) out += '=';
  return out;
}

bool WireReader::ReadByte(uint8_t& out) {
  if (!ok_ || in_.empty()) return Fail();
  out = static_cast<uint8_t>(in_.front());
  in_.remove_prefix(1);
  return true;
}

bool WireReader::ReadU32(uint32_t& out) {
  if (!ok_ || in_.size() < 4) return Fail();
  out = 0;
  for (int i = 0; i < 4; ++i) out = (out << 8) | static_cast<uint8_t>(in_[static_cast<size_t>(i)]);
  in_.remove_prefix(4);
  return true;
}

bool WireReader::ReadU64(uint64_t& out) {
  if (!ok_ || in_.size() < 8) return Fail();
  out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | static_cast<uint8_t>(in_[static_cast<size_t>(i)]);
  in_.remove_prefix(8);
  return true;
}

bool WireReader::ReadString(std::string_view& out) {
  uint32_t n = 0;
  if (!ReadU32(n)) return false;
  if (n > in_.size()) return Fail();
  out = in_.substr(0, n);
  in_.remove_prefix(n);
  return true;
}

}  // namespace pushgate
