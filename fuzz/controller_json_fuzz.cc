// Every decoder of controller answers, on hostile JSON: never a crash; build
// ids that are accepted are safe in a URL; and any text the controller sends
// is printable ASCII of bounded length once cut for a pusher (Printable).
#include <string>

#include "controller/json.h"
#include "fuzz/fuzz_check.h"
#include "util/names.h"

namespace {

void CheckShownToPusher(const std::string& text) {
  std::string shown = pushgate::Printable(text, 300);
  FUZZ_CHECK(shown.size() <= 303, "text for a pusher is cut (300 characters and an ellipsis)");
  for (char c : shown) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "text for a pusher is printable ASCII");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view json = AsText(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0: (void)pushgate::DecodeKeyOwner(json); break;
    case 1: (void)pushgate::DecodeKeyLists(json); break;
    case 2: {
      auto page = pushgate::DecodeDeltaPage(json);
      if (page.ok()) FUZZ_CHECK(page->changes.size() <= json.size(), "no change comes from nothing");
      break;
    }
    case 3: (void)pushgate::DecodeAppLookup(json); break;
    case 4: {
      auto id = pushgate::DecodeBuildCreated(json);
      if (id.ok()) FUZZ_CHECK(pushgate::IsValidBuildId(*id), "a build id is safe in a URL");
      break;
    }
    case 5: {
      auto state = pushgate::DecodeBuildState(json);
      if (state.ok()) {
        FUZZ_CHECK(pushgate::IsValidBuildId(state->id), "a build id is safe in a URL");
        CheckShownToPusher(state->message);
      }
      break;
    }
    case 6: CheckShownToPusher(pushgate::DecodeErrorMessage(json)); break;
  }
  return 0;
}
