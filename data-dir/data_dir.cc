#include "data-dir/data_dir.h"

#include "util/names.h"

namespace pushgate {

std::string AppOfLockFile(std::string_view file_name) {
  constexpr std::string_view kSuffix = ".lock";
  if (file_name.size() <= kSuffix.size() || file_name.substr(file_name.size() - kSuffix.size()) != kSuffix) return "";
  std::string_view app = file_name.substr(0, file_name.size() - kSuffix.size());
  return IsValidAppName(app) ? std::string(app) : "";
}

}  // namespace pushgate
