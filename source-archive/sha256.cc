#include "source-archive/sha256.h"

#include <openssl/evp.h>

#include "util/fs.h"

namespace pushgate {

struct Sha256::Impl {
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx{EVP_MD_CTX_new()};
  bool ok = false;
};

Sha256::Sha256() : impl_(new Impl) {
  impl_->ok = impl_->ctx && EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) == 1;
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (impl_->ok && !data.empty()) {
    impl_->ok = EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) == 1;
  }
}

Result<std::string> Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!impl_->ok || EVP_DigestFinal_ex(impl_->ctx.get(), digest, &len) != 1) {
    return Status::Internal("SHA-256 computation failed in libcrypto");
  }
  impl_->ok = false;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

Result<std::string> Sha256OfFile(const std::string& path) {
  Sha256 hash;
  PG_RETURN_IF_ERROR(ReadFileInChunks(path, [&](std::string_view chunk) { hash.Update(chunk); }));
  return hash.FinishHex();
}

}  // namespace pushgate
