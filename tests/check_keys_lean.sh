#!/bin/sh
# Fails if the keys helper could load libcurl, libgit2, libssh or the other
# heavy libraries, contains their code, or runs iostream's static
# initializer; and if any of its sources include their headers.
# usage: check_keys_lean.sh PUSHGATE_KEYS SOURCE_DIR
set -eu
binary=$1
src=$2
status=0

if ldd "$binary" >/dev/null 2>&1; then
  # Dynamic (sanitizer builds): only the C/C++ runtime, LMDB and the sanitizer runtimes.
  unexpected=$(ldd "$binary" | awk '{print $1}' |
    grep -Ev '^(linux-vdso\.so|/lib64/ld-linux|libc\.so|libm\.so|libstdc\+\+\.so|libgcc_s\.so|liblmdb\.so|libasan\.so|libubsan\.so|libdl\.so|libpthread\.so|librt\.so)' || true)
  if [ -n "$unexpected" ]; then
    echo "pushgate-keys loads unexpected libraries:"; echo "$unexpected"; status=1
  fi
else
  echo "pushgate-keys is statically linked"
fi

if nm "$binary" 2>/dev/null | grep -Eq ' [TtWw] (curl_|git_libgit2|git_repository_|ssh_pki_|ssh_new|archive_write|EVP_)'; then
  echo "pushgate-keys contains libcurl/libgit2/libssh/libarchive/libcrypto code"; status=1
fi
if nm -C "$binary" 2>/dev/null | grep -q 'ios_base::Init::Init'; then
  echo "pushgate-keys runs iostream's static initializer"; status=1
fi

for f in "$src"/sshd-plugin/keys.cc "$src"/sshd-plugin/keys.h "$src"/sshd-plugin/keys_main.cc \
         "$src"/sshd-plugin/authorized_keys_line.* "$src"/cache/*.cc "$src"/cache/*.h \
         "$src"/config/config.cc "$src"/config/config.h "$src"/util/*.cc "$src"/util/*.h; do
  case "$f" in *_test.cc) continue ;; esac
  if grep -Eq '#include [<"](curl/|git2|libssh/|archive|openssl/|iostream)' "$f"; then
    echo "$f includes a header the keys helper must not depend on"; status=1
  fi
done

[ $status -eq 0 ] && echo "pushgate-keys is lean"
exit $status
