#include "sshcert/sshcert.h"

#include <algorithm>
#include <array>

#include "util/names.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

struct CertificateKind {
  std::string_view cert_type;
  std::string_view plain_type;
  int key_fields;  // wire strings (or mpints) between the nonce and the serial
};

// The certificate types of the key types on the allowlist (util/names.h).
constexpr std::array<CertificateKind, 7> kKinds = {{
    {"ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", 1},
    {"ssh-rsa-cert-v01@openssh.com", "ssh-rsa", 2},
    {"ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", 2},
    {"ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384", 2},
    {"ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521", 2},
    {"sk-ssh-ed25519-cert-v01@openssh.com", "sk-ssh-ed25519@openssh.com", 2},
    {"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", 3},
}};

// The certificate options OpenSSH defines that pushgate can honour.
constexpr std::string_view kForceCommand = "force-command";
constexpr std::string_view kSourceAddress = "source-address";

// A certificate or KRL larger than this is not one anybody made on purpose.
constexpr size_t kMaxBlob = 64 * 1024;
constexpr size_t kMaxKrl = 64 * 1024 * 1024;

void AppendString(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  out.append(s);
}

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("not a valid OpenSSH certificate: " + std::string(what));
}

// A packed list of strings (the principals).
bool ReadStringList(std::string_view packed, std::vector<std::string>& out) {
  WireReader in(packed);
  while (!in.empty()) {
    std::string_view item;
    if (!in.ReadString(item)) return false;
    out.emplace_back(item);
  }
  return true;
}

// Packed name/data pairs in strictly increasing name order, as
// PROTOCOL.certkeys requires (so a name cannot appear twice).
bool ReadOptions(std::string_view packed, std::vector<std::pair<std::string, std::string>>& out) {
  WireReader in(packed);
  while (!in.empty()) {
    std::string_view name, data;
    if (!in.ReadString(name) || !in.ReadString(data)) return false;
    if (!out.empty() && out.back().first >= name) return false;
    out.emplace_back(std::string(name), std::string(data));
  }
  return true;
}

}  // namespace

bool IsCertificateType(std::string_view type) {
  constexpr std::string_view kSuffix = "-cert-v01@openssh.com";
  return type.size() > kSuffix.size() && type.substr(type.size() - kSuffix.size()) == kSuffix;
}

Result<Certificate> ParseCertificate(std::string_view blob) {
  if (blob.size() > kMaxBlob) return Malformed("larger than 64 KiB");
  WireReader in(blob);
  std::string_view type, nonce;
  if (!in.ReadString(type) || !in.ReadString(nonce)) return Malformed("truncated");
  auto kind = std::find_if(kKinds.begin(), kKinds.end(), [&](const CertificateKind& k) { return k.cert_type == type; });
  if (kind == kKinds.end()) {
    return Status::InvalidArgument("certificate type " + Printable(type, 80) +
                                   " is not accepted (allowed: the -cert-v01@openssh.com forms of " +
                                   "ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 and the sk- types)");
  }
  Certificate cert;
  cert.type = std::string(type);
  AppendString(cert.plain_key, kind->plain_type);
  for (int i = 0; i < kind->key_fields; ++i) {
    std::string_view field;
    if (!in.ReadString(field)) return Malformed("truncated key");
    AppendString(cert.plain_key, field);
  }
  std::string_view key_id, principals, critical, extensions, reserved, signature_key, signature;
  if (!in.ReadU64(cert.serial) || !in.ReadU32(cert.cert_type) || !in.ReadString(key_id) ||
      !in.ReadString(principals) || !in.ReadU64(cert.valid_after) || !in.ReadU64(cert.valid_before) ||
      !in.ReadString(critical) || !in.ReadString(extensions) || !in.ReadString(reserved) ||
      !in.ReadString(signature_key)) {
    return Malformed("truncated");
  }
  cert.signed_data = std::string(blob.substr(0, blob.size() - in.rest().size()));
  if (!in.ReadString(signature) || !in.empty()) return Malformed("truncated, or bytes after the signature");
  cert.key_id = std::string(key_id);
  cert.signature_key = std::string(signature_key);
  cert.signature = std::string(signature);
  if (!ReadStringList(principals, cert.principals)) return Malformed("broken principals list");
  if (!ReadOptions(critical, cert.critical_options)) return Malformed("broken critical options");
  std::vector<std::pair<std::string, std::string>> extension_pairs;
  if (!ReadOptions(extensions, extension_pairs)) return Malformed("broken extensions");
  for (auto& [name, data] : extension_pairs) cert.extensions.push_back(std::move(name));
  // force-command and source-address carry their value as a string inside
  // the data string; keep the value itself.
  for (auto& [name, data] : cert.critical_options) {
    if (name != kForceCommand && name != kSourceAddress) continue;
    WireReader value(data);
    std::string_view inner;
    if (!value.ReadString(inner) || !value.empty()) return Malformed("broken " + name + " option");
    data = std::string(inner);
  }
  if (signature_key.empty() || signature.empty()) return Malformed("no signature");
  return cert;
}

Result<Certificate> ParseCertificateBase64(std::string_view base64) {
  std::optional<std::string> blob = DecodeBase64(base64);
  if (!blob) return Malformed("not base64");
  return ParseCertificate(*blob);
}

const std::string* FindCriticalOption(const Certificate& cert, std::string_view name) {
  for (const auto& [option, value] : cert.critical_options) {
    if (option == name) return &value;
  }
  return nullptr;
}

std::string CertificateRefusal(const Certificate& cert, uint64_t now) {
  if (cert.cert_type != Certificate::kUserType) return "it is not a user certificate";
  if (now < cert.valid_after) return "it is not valid yet";
  if (now >= cert.valid_before) return "it has expired";
  for (const auto& [name, value] : cert.critical_options) {
    if (name != kForceCommand && name != kSourceAddress) {
      return "it carries the critical option " + Printable(name, 64) + ", which pushgate does not support";
    }
  }
  return "";
}

// ---- KRLs ------------------------------------------------------------------

namespace {

constexpr std::string_view kKrlMagic("SSHKRL\n\0", 8);
constexpr uint32_t kKrlFormatVersion = 1;

enum KrlSection : uint8_t {
  kSectionCertificates = 1,
  kSectionExplicitKey = 2,
  kSectionSha1 = 3,
  kSectionSignature = 4,
  kSectionSha256 = 5,
};
enum KrlCertSection : uint8_t {
  kCertSerialList = 0x20,
  kCertSerialRange = 0x21,
  kCertSerialBitmap = 0x22,
  kCertKeyId = 0x23,
};

Status BadKrl(std::string_view what) {
  return Status::InvalidArgument("not a valid KRL (make one with ssh-keygen -k): " + std::string(what));
}

bool BitmapHas(std::string_view bitmap, uint64_t offset, uint64_t serial) {
  if (serial < offset) return false;
  uint64_t bit = serial - offset;
  uint64_t byte_from_end = bit / 8;
  if (byte_from_end >= bitmap.size()) return false;
  auto byte = static_cast<uint8_t>(bitmap[bitmap.size() - 1 - static_cast<size_t>(byte_from_end)]);
  return (byte >> (bit % 8)) & 1;
}

}  // namespace

Status RevocationList::ParseCertificateSection(std::string_view data, CaSection& out) {
  WireReader in(data);
  std::string_view ca_key, reserved;
  if (!in.ReadString(ca_key) || !in.ReadString(reserved)) return BadKrl("truncated certificate section");
  out.ca_key = std::string(ca_key);
  while (!in.empty()) {
    uint8_t type = 0;
    std::string_view body;
    if (!in.ReadByte(type) || !in.ReadString(body)) return BadKrl("truncated certificate section");
    WireReader fields(body);
    switch (type) {
      case kCertSerialList:
        while (!fields.empty()) {
          uint64_t serial = 0;
          if (!fields.ReadU64(serial)) return BadKrl("truncated serial list");
          out.serial_ranges.emplace_back(serial, serial);
        }
        break;
      case kCertSerialRange: {
        uint64_t low = 0, high = 0;
        if (!fields.ReadU64(low) || !fields.ReadU64(high) || !fields.empty() || low > high) {
          return BadKrl("broken serial range");
        }
        out.serial_ranges.emplace_back(low, high);
        break;
      }
      case kCertSerialBitmap: {
        uint64_t offset = 0;
        std::string_view bitmap;
        if (!fields.ReadU64(offset) || !fields.ReadString(bitmap) || !fields.empty()) {
          return BadKrl("broken serial bitmap");
        }
        out.serial_bitmaps.emplace_back(offset, std::string(bitmap));
        break;
      }
      case kCertKeyId:
        while (!fields.empty()) {
          std::string_view id;
          if (!fields.ReadString(id)) return BadKrl("truncated key id list");
          out.key_ids.emplace_back(id);
        }
        break;
      default:
        return BadKrl("unknown certificate section " + std::to_string(type));
    }
  }
  return Status::OK();
}

Result<RevocationList> RevocationList::Parse(std::string_view data) {
  if (data.size() > kMaxKrl) return BadKrl("larger than 64 MiB");
  if (data.substr(0, kKrlMagic.size()) != kKrlMagic) return BadKrl("no SSHKRL header");
  WireReader in(data.substr(kKrlMagic.size()));
  uint32_t format = 0;
  uint64_t version = 0, generated = 0, flags = 0;  // read past: nothing here depends on them
  std::string_view reserved, comment;
  if (!in.ReadU32(format) || !in.ReadU64(version) || !in.ReadU64(generated) || !in.ReadU64(flags) ||
      !in.ReadString(reserved) || !in.ReadString(comment)) {
    return BadKrl("truncated header");
  }
  if (format != kKrlFormatVersion) return BadKrl("format version " + std::to_string(format) + ", expected 1");
  RevocationList krl;
  while (!in.empty()) {
    uint8_t type = 0;
    std::string_view body;
    if (!in.ReadByte(type) || !in.ReadString(body)) return BadKrl("truncated section");
    WireReader fields(body);
    switch (type) {
      case kSectionCertificates: {
        CaSection section;
        PG_RETURN_IF_ERROR(ParseCertificateSection(body, section));
        krl.ca_sections_.push_back(std::move(section));
        break;
      }
      case kSectionExplicitKey:
        while (!fields.empty()) {
          std::string_view key;
          if (!fields.ReadString(key)) return BadKrl("truncated key list");
          krl.explicit_keys_.emplace_back(key);
        }
        break;
      case kSectionSha256:
        while (!fields.empty()) {
          std::string_view digest;
          if (!fields.ReadString(digest) || digest.size() != 32) return BadKrl("broken SHA256 list");
          krl.sha256_keys_.emplace_back(digest);
        }
        break;
      case kSectionSha1:
        return Status::InvalidArgument(
            "the KRL revokes keys by SHA1 fingerprint, which pushgate does not match; revoke them by key "
            "or by sha256: instead (ssh-keygen -k)");
      case kSectionSignature:
        // The file is the operator's own; its signature adds nothing here,
        // and everything after it is signature data.
        return krl;
      default:
        return BadKrl("unknown section " + std::to_string(type));
    }
  }
  return krl;
}

bool RevocationList::Revokes(const Certificate& cert, std::string_view plain_key_sha256) const {
  for (const std::string& key : explicit_keys_) {
    if (key == cert.plain_key) return true;
  }
  for (const std::string& digest : sha256_keys_) {
    if (digest == plain_key_sha256) return true;
  }
  for (const CaSection& section : ca_sections_) {
    if (!section.ca_key.empty() && section.ca_key != cert.signature_key) continue;
    for (const auto& [low, high] : section.serial_ranges) {
      if (cert.serial >= low && cert.serial <= high) return true;
    }
    for (const auto& [offset, bitmap] : section.serial_bitmaps) {
      if (BitmapHas(bitmap, offset, cert.serial)) return true;
    }
    for (const std::string& id : section.key_ids) {
      if (id == cert.key_id) return true;
    }
  }
  return false;
}

}  // namespace pushgate
