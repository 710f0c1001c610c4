// A C library loaded when it is first needed rather than at program start
// (dlopen). The loader maps and relocates every library a program records,
// with all of theirs, at each start; for the programs every push starts
// (pushgate-shell, pushgate-hook) a library that serves only some modes is
// loaded on demand instead. The adapter module that owns the library still
// compiles against its headers; `kLib...Soname` constants name what the
// image must ship (tests/check_dockerfile.sh reads them).
#ifndef PUSHGATE_UTIL_SHARED_LIBRARY_H_
#define PUSHGATE_UTIL_SHARED_LIBRARY_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

class SharedLibrary {
 public:
  // Loads `soname` (RTLD_NOW | RTLD_LOCAL). Never unloaded: the library's
  // global state lives as long as the process. Unavailable, naming what
  // needs it (`needed_for`, "controller mode") and the loader's reason, if
  // it cannot be loaded.
  static Result<SharedLibrary> Open(const char* soname, std::string_view needed_for);

  // Sets `*function` to the library's `name`; Unavailable if it has none.
  template <typename Function>
  Status Resolve(const char* name, Function* function) const {
    void* symbol = nullptr;
    PG_RETURN_IF_ERROR(Lookup(name, &symbol));
    *function = reinterpret_cast<Function>(symbol);
    return Status::OK();
  }

 private:
  SharedLibrary(void* handle, std::string soname) : handle_(handle), soname_(std::move(soname)) {}
  Status Lookup(const char* name, void** symbol) const;

  void* handle_;
  std::string soname_;
};

// An adapter's table of a library's functions, filled by `Resolve` on the
// first call (thread-safe) and kept for the process. `Functions::status`
// holds Resolve's answer: why the functions cannot be used, if they cannot;
// callers check it before the first call through the table.
template <typename Functions, Status (*Resolve)(Functions*)>
const Functions& ResolvedOnce() {
  static const Functions functions = [] {
    Functions resolved;
    resolved.status = Resolve(&resolved);
    return resolved;
  }();
  return functions;
}

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_SHARED_LIBRARY_H_
