#include "util/shared_library.h"

#include <dlfcn.h>

namespace pushgate {

Result<SharedLibrary> SharedLibrary::Open(const char* soname, std::string_view needed_for) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::Unavailable("cannot load " + std::string(soname) + ", which " + std::string(needed_for) +
                               " needs: " + (why != nullptr ? why : "unknown error"));
  }
  return SharedLibrary(handle, soname);
}

Status SharedLibrary::Lookup(const char* name, void** symbol) const {
  ::dlerror();  // clears an earlier error
  *symbol = ::dlsym(handle_, name);
  if (*symbol != nullptr) return Status::OK();
  const char* why = ::dlerror();
  return Status::Unavailable(soname_ + " has no " + name + (why != nullptr ? std::string(": ") + why : ""));
}

}  // namespace pushgate
