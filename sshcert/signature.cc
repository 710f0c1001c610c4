#include "sshcert/signature.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <memory>

#include "util/names.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

// RAII for the libcrypto handles used here.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

Status Refused(std::string_view why) {
  return Status::PermissionDenied("the certificate's CA signature does not verify: " + std::string(why));
}

BnPtr Bignum(std::string_view mpint) { return BnPtr(BN_bin2bn(Bytes(mpint), static_cast<int>(mpint.size()), nullptr)); }

// A public key from OSSL_PARAMs ("RSA" or "EC").
PkeyPtr KeyFromParams(const char* algorithm, OSSL_PARAM_BLD* build) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return PkeyPtr(key);
}

PkeyPtr RsaKey(std::string_view e, std::string_view n) {
  BnPtr bn_e = Bignum(e), bn_n = Bignum(n);
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!bn_e || !bn_n || !build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  return KeyFromParams("RSA", build.get());
}

PkeyPtr EcKey(const char* group, std::string_view point) {
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return nullptr;
  }
  return KeyFromParams("EC", build.get());
}

// SSH's ECDSA signature (mpint r, mpint s) as the DER that libcrypto takes.
bool EcdsaDer(std::string_view ssh_signature, std::string& der) {
  WireReader in(ssh_signature);
  std::string_view r, s;
  if (!in.ReadString(r) || !in.ReadString(s) || !in.empty()) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr bn_r = Bignum(r), bn_s = Bignum(s);
  if (!sig || !bn_r || !bn_s || ECDSA_SIG_set0(sig.get(), bn_r.get(), bn_s.get()) != 1) return false;
  (void)bn_r.release();  // owned by sig now
  (void)bn_s.release();
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return false;
  der.resize(static_cast<size_t>(length));
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &out) == length;
}

bool Verifies(EVP_PKEY* key, const EVP_MD* digest, std::string_view signature, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(data), data.size()) == 1;
}

struct EcdsaCurve {
  std::string_view key_type;
  const char* group;
  const EVP_MD* (*digest)();
};
constexpr EcdsaCurve kCurves[] = {
    {"ecdsa-sha2-nistp256", "prime256v1", EVP_sha256},
    {"ecdsa-sha2-nistp384", "secp384r1", EVP_sha384},
    {"ecdsa-sha2-nistp521", "secp521r1", EVP_sha512},
};

}  // namespace

Status VerifyCertificateSignature(const Certificate& cert) {
  WireReader key(cert.signature_key), sig(cert.signature);
  std::string_view key_type, sig_type, sig_data;
  if (!key.ReadString(key_type)) return Refused("the CA key is malformed");
  if (!sig.ReadString(sig_type) || !sig.ReadString(sig_data) || !sig.empty()) {
    return Refused("the signature is malformed");
  }
  if (key_type == "ssh-ed25519") {
    std::string_view public_key;
    if (!key.ReadString(public_key) || !key.empty() || public_key.size() != 32) return Refused("malformed CA key");
    if (sig_type != "ssh-ed25519") return Refused("an ssh-ed25519 CA signed with " + Printable(sig_type, 40));
    PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
    if (!pkey || !Verifies(pkey.get(), nullptr, sig_data, cert.signed_data)) return Refused("bad signature");
    return Status::OK();
  }
  if (key_type == "ssh-rsa") {
    std::string_view e, n;
    if (!key.ReadString(e) || !key.ReadString(n) || !key.empty()) return Refused("malformed CA key");
    const EVP_MD* digest = sig_type == "rsa-sha2-256"   ? EVP_sha256()
                           : sig_type == "rsa-sha2-512" ? EVP_sha512()
                                                        : nullptr;
    if (digest == nullptr) {
      return Refused("an RSA CA must sign with rsa-sha2-256 or rsa-sha2-512, not " + Printable(sig_type, 40) +
                     " (re-sign with ssh-keygen -s CA -t rsa-sha2-512)");
    }
    PkeyPtr pkey = RsaKey(e, n);
    if (!pkey || !Verifies(pkey.get(), digest, sig_data, cert.signed_data)) return Refused("bad signature");
    return Status::OK();
  }
  for (const EcdsaCurve& curve : kCurves) {
    if (key_type != curve.key_type) continue;
    std::string_view curve_name, point;
    std::string der;
    if (!key.ReadString(curve_name) || !key.ReadString(point) || !key.empty()) return Refused("malformed CA key");
    if (sig_type != key_type) return Refused("an ECDSA CA signed with " + Printable(sig_type, 40));
    if (!EcdsaDer(sig_data, der)) return Refused("malformed ECDSA signature");
    PkeyPtr pkey = EcKey(curve.group, point);
    if (!pkey || !Verifies(pkey.get(), curve.digest(), der, cert.signed_data)) return Refused("bad signature");
    return Status::OK();
  }
  return Refused("CA keys of type " + Printable(key_type, 60) +
                 " are not supported by pushgate-sshd (use an ed25519, ECDSA or RSA CA)");
}

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(Bytes(data), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string Sha256Fingerprint(std::string_view blob) {
  std::string digest = Sha256(blob);
  unsigned char encoded[64];
  int length = EVP_EncodeBlock(encoded, Bytes(digest), static_cast<int>(digest.size()));
  std::string text(reinterpret_cast<const char*>(encoded), static_cast<size_t>(length));
  while (!text.empty() && text.back() == '=') text.pop_back();
  return "SHA256:" + text;
}

}  // namespace pushgate
