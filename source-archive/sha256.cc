#include "source-archive/sha256.h"

#include <openssl/evp.h>

#include "util/fs.h"
#include "util/sha256.h"
#include "util/shared_library.h"

namespace pushgate {
namespace {

// libcrypto's ABI for OpenSSL 3 (Debian 12's libssl3).
constexpr char kLibcryptoSoname[] = "libcrypto.so.3";

// The libcrypto functions this adapter calls, resolved once.
struct Libcrypto {
  decltype(&EVP_MD_CTX_new) md_ctx_new = nullptr;
  decltype(&EVP_MD_CTX_free) md_ctx_free = nullptr;
  decltype(&EVP_sha256) sha256 = nullptr;
  decltype(&EVP_DigestInit_ex) digest_init = nullptr;
  decltype(&EVP_DigestUpdate) digest_update = nullptr;
  decltype(&EVP_DigestFinal_ex) digest_final = nullptr;
  Status status = Status::OK();  // why the library cannot be used, if it cannot
};

Status ResolveLibcrypto(Libcrypto* lib) {
  PG_ASSIGN_OR_RETURN(SharedLibrary so, SharedLibrary::Open(kLibcryptoSoname, "hashing a source archive (libssl3)"));
  PG_RETURN_IF_ERROR(so.Resolve("EVP_MD_CTX_new", &lib->md_ctx_new));
  PG_RETURN_IF_ERROR(so.Resolve("EVP_MD_CTX_free", &lib->md_ctx_free));
  PG_RETURN_IF_ERROR(so.Resolve("EVP_sha256", &lib->sha256));
  PG_RETURN_IF_ERROR(so.Resolve("EVP_DigestInit_ex", &lib->digest_init));
  PG_RETURN_IF_ERROR(so.Resolve("EVP_DigestUpdate", &lib->digest_update));
  return so.Resolve("EVP_DigestFinal_ex", &lib->digest_final);
}

const Libcrypto& Crypto() { return ResolvedOnce<Libcrypto, ResolveLibcrypto>(); }

}  // namespace

struct Sha256::Impl {
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { Crypto().md_ctx_free(ctx); }
  };
  // The input so far, while it is at most kSmallHashInput.
  std::string small;
  // Once it is larger.
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx;
  Status status = Status::OK();

  void StartLibcrypto() {
    const Libcrypto& lib = Crypto();
    status = lib.status;
    if (!status.ok()) return;
    ctx.reset(lib.md_ctx_new());
    if (!ctx || lib.digest_init(ctx.get(), lib.sha256(), nullptr) != 1) {
      status = Status::Internal("SHA-256 computation failed in libcrypto");
      return;
    }
    Feed(small);
    small = std::string();  // frees it
  }

  void Feed(std::string_view data) {
    if (status.ok() && !data.empty() && Crypto().digest_update(ctx.get(), data.data(), data.size()) != 1) {
      status = Status::Internal("SHA-256 computation failed in libcrypto");
    }
  }
};

Sha256::Sha256() : impl_(new Impl) {}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (!impl_->ctx && impl_->status.ok()) {
    if (impl_->small.size() + data.size() <= kSmallHashInput) {
      impl_->small.append(data);
      return;
    }
    impl_->StartLibcrypto();
  }
  impl_->Feed(data);
}

Result<std::string> Sha256::FinishHex() {
  PG_RETURN_IF_ERROR(impl_->status);
  std::string digest;
  if (!impl_->ctx) {
    digest = Sha256Bytes(impl_->small);
  } else {
    unsigned char bytes[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (Crypto().digest_final(impl_->ctx.get(), bytes, &len) != 1) {
      return Status::Internal("SHA-256 computation failed in libcrypto");
    }
    digest.assign(reinterpret_cast<const char*>(bytes), len);
  }
  impl_->status = Status::Internal("the SHA-256 was finished already");
  return LowerHex(digest);
}

Result<std::string> Sha256OfFile(const std::string& path) {
  Sha256 hash;
  PG_RETURN_IF_ERROR(ReadFileInChunks(path, [&](std::string_view chunk) { hash.Update(chunk); }));
  return hash.FinishHex();
}

}  // namespace pushgate
