// The authorized_keys line writer with arbitrary parts (as the registry or a
// controller could supply them): whatever it accepts is one line whose only
// options are pushgate's `command="...",restrict`, with every part verbatim.
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "sshd-plugin/authorized_keys_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Six parts separated by NUL bytes; missing parts are empty.
  std::vector<std::string> parts(6);
  size_t part = 0;
  for (char c : AsText(data, size)) {
    if (c == '\0' && part < 5) {
      ++part;
    } else {
      parts[part] += c;
    }
  }
  pushgate::Result<std::string> line =
      pushgate::FormatAuthorizedKeysLine({parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]});
  if (!line.ok()) return 0;
  std::string expected = "command=\"" + parts[0] + " --config " + parts[1] + " --user " + parts[2] + " --key " +
                         parts[3] + "\",restrict " + parts[4] + " " + parts[5] + "\n";
  FUZZ_CHECK(*line == expected, "accepted parts appear verbatim, nothing escaped or added");
  FUZZ_CHECK(line->find('\n') == line->size() - 1, "exactly one line");
  FUZZ_CHECK(line->find('\0') == std::string::npos, "no NUL");
  for (const std::string& p : parts) {
    FUZZ_CHECK(!p.empty(), "no part is empty");
    FUZZ_CHECK(p.find_first_of("\"\\,' \t\r\n`$;&|<>(){}*?!#~") == std::string::npos,
               "no part can end the option, start another or mean anything to a shell");
  }
  return 0;
}
