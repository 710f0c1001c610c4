#!/bin/sh
# Checks docker/Dockerfile without a container engine (none runs where the
# tests run):
#   - every COPY source exists in the build context, and every source folder
#     the build needs (CMakeLists.txt's add_subdirectory) is copied;
#   - the build stage installs every -dev package scripts/bootstrap lists for
#     building (the test-only ones aside), or builds the library from its
#     Debian source package (`apt-get source`);
#   - the paths ENTRYPOINT and HEALTHCHECK run exist in `cmake --install`'s tree;
#   - the runtime stage installs the package of every shared library the
#     installed binaries link (objdump NEEDED), except one the build stage
#     builds from source, which it must not install, and one only a build on
#     the host links (scripts/bootstrap's host_only_packages);
#   - the image's default config is valid and its git_user is the user the
#     image creates.
# Usage: check_dockerfile.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
dockerfile=$src/docker/Dockerfile
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=$tmp/failures
: >"$failures"
problem() { echo "check_dockerfile: $*" | tee -a "$failures" >&2; }

# The instructions, continuation lines joined.
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -v '^[[:space:]]*#' >"$tmp/instructions"
# The tokens of the build stage and of the last (runtime) stage.
last_from=$(grep -n '^FROM ' "$tmp/instructions" | tail -1 | cut -d: -f1)
head -n "$((last_from - 1))" "$tmp/instructions" | tr -s ' \t' '\n\n' | sort -u >"$tmp/build_tokens"
tail -n "+$last_from" "$tmp/instructions" | tr -s ' \t' '\n\n' | sort -u >"$tmp/runtime_tokens"

# COPY sources (all arguments but the last, flags aside) exist in the context.
grep '^COPY ' "$tmp/instructions" | grep -v -- '--from=' | while read -r _ args; do
  # shellcheck disable=SC2086
  set -- $args
  while [ $# -gt 1 ]; do
    case "$1" in
      --*) ;;
      *) [ -e "$src/$1" ] || problem "COPY $1: no such file in the build context" ;;
    esac
    shift
  done
done
grep '^COPY ' "$tmp/instructions" | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}' |
  sed 's|/$||' >"$tmp/copied"
sed -n 's/^add_subdirectory(\([^/)]*\).*/\1/p' "$src/CMakeLists.txt" | sort -u | while read -r dir; do
  case "$dir" in tests | bench) continue ;; esac
  grep -qx "$dir" "$tmp/copied" || problem "the build needs $dir/ (add_subdirectory) but the Dockerfile does not COPY it"
done
for file in CMakeLists.txt README.md docs; do
  grep -qx "$file" "$tmp/copied" || problem "the build needs $file but the Dockerfile does not COPY it"
done

# Libraries the build stage compiles from their Debian source package
# (`apt-get source NAME`) and links in statically: their -dev package is not
# needed to build, and their shared library must not be in the runtime stage.
head -n "$((last_from - 1))" "$tmp/instructions" | grep -o 'apt-get source [a-z0-9.+-]*' | awk '{print $3}' |
  sort -u >"$tmp/built_from_source"
built_from_source() { grep -qx "$(dpkg-query -W -f='${source:Package}' "$1" 2>/dev/null)" "$tmp/built_from_source"; }
# What only a build on the host links (scripts/bootstrap's host_only_packages,
# for Debian's libarchive): the packages those -dev packages depend on.
for package in $(sed -n 's/^host_only_packages="\(.*\)"$/\1/p' "$src/scripts/bootstrap"); do
  dpkg-query -W -f='${Depends}\n' "$package" | tr ',' '\n' | awk '{print $1}'
done >"$tmp/host_only"

# Build dependencies: what bootstrap installs to build, minus test and bench tools.
for package in $(grep -E '^lib[a-z0-9.+-]+-dev$' "$src/scripts/bootstrap"); do
  case "$package" in libgtest-dev | libgmock-dev | libbenchmark-dev | libclang-rt-*) continue ;; esac
  built_from_source "$package" && continue
  grep -qx "$package" "$tmp/build_tokens" || problem "the build stage does not install $package (scripts/bootstrap does)"
done

# The install tree the image copies (the build stage installs to /usr).
DESTDIR=$tmp/root cmake --install "$build" --prefix /usr >/dev/null
entrypoint=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' "$tmp/instructions")
[ -n "$entrypoint" ] || problem "no ENTRYPOINT [\"...\"] line"
[ -x "$tmp/root$entrypoint" ] || problem "ENTRYPOINT $entrypoint is not in the install tree"
healthcheck=$(sed -n 's/^HEALTHCHECK.* CMD \["\([^"]*\)".*/\1/p' "$tmp/instructions")
[ -n "$healthcheck" ] || problem "no HEALTHCHECK ... CMD [\"...\"] line"
[ -x "$tmp/root$healthcheck" ] || problem "HEALTHCHECK runs $healthcheck, which is not in the install tree"

# Runtime libraries. Sanitizer runtimes only exist in the sanitizer build.
for binary in "$tmp"/root/usr/bin/* "$tmp"/root/usr/libexec/pushgate/*; do
  [ -f "$binary" ] && head -c 4 "$binary" | grep -q 'ELF' || continue
  objdump -p "$binary" | awk '/NEEDED/ {print $2}'
done >"$tmp/recorded"
# ...and the ones loaded on demand (dlopen), named by a kLib...Soname constant.
[ -s "$tmp/recorded" ] || problem "found no binaries with shared libraries in the install tree"
sed -n 's/.*constexpr char kLib[a-z0-9]*Soname\[\] = "\([^"]*\)".*/\1/p' "$src"/*/*.cc >>"$tmp/recorded"
sort -u "$tmp/recorded" >"$tmp/sonames"
grep -qx libcurl.so.4 "$tmp/sonames" || problem "found no kLibcurlSoname in the sources: how is libcurl loaded?"
grep -qx libssh.so.4 "$tmp/sonames" || problem "found no libssh.so.4 among the libraries: how is libssh loaded?"
while read -r soname; do
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s {print $NF; exit}')
  [ -n "$path" ] || { problem "cannot find $soname"; continue; }
  # dpkg knows a library by the path its package ships, which usrmerge may
  # have moved from under /lib to under /usr/lib or back.
  package=$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")") 2>/dev/null | head -1 | cut -d: -f1)
  case "$package" in
    "") problem "no package owns $path" ;;
    libc6 | libgcc-s1 | libasan* | libubsan*) ;;
    *) if grep -qx "$package" "$tmp/host_only"; then continue; fi
       if built_from_source "$package"; then
         grep -qx "$package" "$tmp/runtime_tokens" &&
           problem "the build stage links $soname in statically, but the runtime stage still installs $package"
         continue
       fi
       grep -qx "$package" "$tmp/runtime_tokens" ||
         problem "binaries load $soname from $package, which the runtime stage does not install" ;;
  esac
done <"$tmp/sonames"

# The default configuration the image ships.
config=$src/docker/pushgate.toml
grep -q "^COPY docker/pushgate.toml /etc/pushgate/pushgate.toml$" "$tmp/instructions" ||
  problem "the image does not install docker/pushgate.toml as /etc/pushgate/pushgate.toml"
"$build/cli/pushgate" --config "$config" config check --file-only >/dev/null || problem "docker/pushgate.toml is not valid"
git_user=$("$build/cli/pushgate" --config "$config" config get git_user)
grep -Eq "useradd .* $git_user( |$)" "$tmp/instructions" ||
  problem "docker/pushgate.toml's git_user '$git_user' is not the user the image creates"

if [ -s "$failures" ]; then
  exit 1
fi
echo "docker/Dockerfile: OK ($(wc -l <"$tmp/sonames") shared libraries covered)"
